// crigate-bundle: the `crigate bundle` subcommand on its own, for the cloud
// side's scripts (signing needs no daemon).
#include "policy/channel/bundle_cli.h"

int main(int argc, char** argv) { return crigate::channel::RunBundleCli(argc, argv); }
