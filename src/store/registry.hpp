#pragma once
// Backend registry for OpenStore(url). Backends are chosen by URL scheme and
// registered through explicit calls (no static-initialiser magic, which static
// libraries silently drop). OpenStore registers the built-in backends itself.
//
// Built-in schemes:
//   memory://        a fresh private in-memory store
//   memory://NAME    a process-wide in-memory store shared by every OpenStore("memory://NAME")
//   sqlite://PATH    the embedded store in directory PATH (a plain path means the same)
//   postgresql://... PostgreSQL + pgvector (also postgres://); see store/pgvector/pgvector_store.hpp

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/vector_store.hpp"

namespace signalhub::store {

// `url` is the full URL as given to OpenStore.
using StoreFactory = std::function<Result<std::unique_ptr<VectorStore>>(const std::string& url, const OpenOptions&)>;

// Registers (or replaces) the factory for "scheme://..." URLs. Thread-safe.
void RegisterStoreBackend(const std::string& scheme, StoreFactory factory);

// Registers memory://, sqlite://, postgresql:// and postgres:// (idempotent). Called by OpenStore.
void RegisterBuiltinStoreBackends();

// Registered schemes, sorted ("memory", "sqlite", ...).
std::vector<std::string> SupportedStoreSchemes();

}  // namespace signalhub::store
