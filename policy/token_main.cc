// crigate-token: the `crigate token` subcommand on its own, for operators'
// scripts and for testing without the daemon.
#include "policy/token_cli.h"

int main(int argc, char** argv) { return crigate::policy::RunTokenCli(argc, argv); }
