#pragma once
// The command line and the process: parse flags, load and check the config, start the
// workers, wait for a signal.
namespace aigw::app {

// Returns the process exit code.
int main(int argc, char** argv);

}  // namespace aigw::app
