#include "aigw/app/app.hpp"

int main(int argc, char** argv) {
  return aigw::app::main(argc, argv);
}
