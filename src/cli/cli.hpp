#pragma once
// The signal-hub command line. Parsing only: each subcommand maps its flags
// to one library call and the call's Status to an exit code (docs/cli.md).

namespace signalhub::cli {

int Run(int argc, char** argv);

}  // namespace signalhub::cli
