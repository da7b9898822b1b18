#pragma once
// A VectorStore that traces every call (monitoring.tracing): each is a span
// "store.<operation>" under the thread's current span context, with the
// backend (db.system.name: embedded, postgresql, chromadb, memory), the
// collection and, for searches, k and the number of hits. Work without a
// current context (no request being traced) records nothing. The spans of
// what a backend does inside (PostgreSQL round trips, ChromaDB HTTP requests)
// are children of these. Thread safety and errors are the wrapped store's.

#include <memory>
#include <string>

#include "store/vector_store.hpp"

namespace signalhub::store {

std::unique_ptr<VectorStore> TraceStore(std::unique_ptr<VectorStore> inner, std::string backend);

}  // namespace signalhub::store
