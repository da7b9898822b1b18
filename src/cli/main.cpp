#include "cli/cli.hpp"

int main(int argc, char** argv) { return signalhub::cli::Run(argc, argv); }
