// environment.env compatibility: the nginx image's settings turned into an eclb Config,
// so a deployment moves over by pointing eclb-control at the same file.
//   GATEWAY_LIST="ip:port ip:port ..."  -> pool "gateways", members vm1, vm2, ... in order
//   DNS_NAME=watchers.example.com       -> the VIP address (what the name resolves to),
//                                          unless ECLB_VIP gives it
//   ECLB_VIP=10.0.0.100                 (eclb) the VIP address
//   ECLB_VIP_PORT=80                    (eclb) the VIP port of the L4 path (default 80, the
//                                          image's plain HTTP/WebSocket listener)
//   ECLB_MODE=fullnat                   (eclb) fullnat, dsr-ipip, dsr-gue or l7 (default:
//                                          l7 when a certificate is found, else fullnat)
//   cert.crt, certkey.key               the image's certificate, beside the env file, or
//   ECLB_TLS_CERT=/path ECLB_TLS_KEY=   (eclb) elsewhere. With one, the VIP is the image's
//                                          TLS listener: l7 on 443, and port 80 answers
//                                          301 to https://DNS_NAME
//   ECLB_MODE=l7 without a certificate  the image's non-TLS mode: l7 proxy on port 80
// Everything else (tables, dataplane, control, health checks of pool "gateways") comes
// from an optional base YAML config.
#pragma once

#include <map>
#include <string>

#include "common/result.h"
#include "config/config.h"

namespace eclb {

// An env file's settings, with the line each came from (for messages).
struct EnvFile {
  std::map<std::string, std::string> values;
  std::map<std::string, int> lines;
};

// KEY=VALUE lines as Docker's env-file reader takes them: '#' comments and blank lines
// are skipped, the name must be a valid variable name ([A-Za-z_][A-Za-z0-9_]*, no
// spaces); an optional "export " and matching quotes around the value are allowed (as
// compose takes them). Any other line is an error naming the file and line.
Result<EnvFile> read_env_file(const std::string& path);

// `base` (defaults or a YAML config) with the pool and VIP the env file describes. Errors
// name the file and the line of the setting ("environment.env:3: GATEWAY_LIST: ...").
Result<Config> config_from_env(const EnvFile& env, const std::string& source, Config base);

}  // namespace eclb
