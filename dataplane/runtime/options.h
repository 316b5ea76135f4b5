// DataplaneOptions: everything eclb-dataplane needs besides the EAL arguments — from the
// `dataplane:` and `tables:` sections of the shared YAML config, overridden by its own
// command-line options (after the EAL's "--").
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"

namespace eclb::dp {

struct DataplaneOptions {
  std::string segment = "/dev/shm/eclb-tables";
  DataplaneConfig dataplane;
  std::string log_level = "info";
};

// argv: the arguments left after rte_eal_init (argv[0] first). Prints help and returns
// an error whose message is empty for --help.
Result<DataplaneOptions> parse_options(int argc, char** argv);

// "0,ipv4=10.0.0.2/24,ipv6=2001:db8::2/64,gateway_ipv4=10.0.0.1,gateway_ipv6=...,mtu=1500"
Result<DataplanePortConfig> parse_port_spec(const std::string& spec);

}  // namespace eclb::dp
