// BirdClient against a scripted BIRD control socket (the replies are BIRD 2.0.12's, as
// captured from a real one), and the Announcer's include file.
#include "control/announce/bird_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <thread>

#include "control/announce/announcer.h"
#include "tests/unit/support/temp_dir.h"

namespace eclb::ctl {
namespace {

// Serves one scripted answer per connection: the greeting, then `answer(command)`.
class FakeBird {
 public:
  FakeBird(const std::string& path, std::function<std::string(const std::string&)> answer) : answer_(std::move(answer)) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(listen(fd_, 8), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeBird() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  std::vector<std::string> commands;

 private:
  void serve() {
    while (!stop_) {
      const int client = accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      const std::string greeting = "0001 BIRD 2.0.12 ready.\n";
      (void)!write(client, greeting.data(), greeting.size());
      std::string line;
      char c = 0;
      while (read(client, &c, 1) == 1 && c != '\n') line += c;
      commands.push_back(line);
      const std::string reply = answer_(line);
      (void)!write(client, reply.data(), reply.size());
      close(client);
    }
  }
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::function<std::string(const std::string&)> answer_;
  std::thread thread_;
};

TEST(BirdClientTest, ParsesRepliesWithContinuationLines) {
  const std::string reply =
      "2002-Name       Proto      Table      State  Since         Info\n"
      "1002-device1    Device     ---        up     10:10:14.566  \n"
      " router1    BGP        ---        up     10:10:15.001  Established   \n"
      " eclb_vips4 Static     master4    up     10:10:14.566  \n"
      "0000 \n";
  EXPECT_TRUE(BirdClient::complete(reply));
  EXPECT_FALSE(BirdClient::complete(reply.substr(0, reply.size() - 6)));
  EXPECT_FALSE(BirdClient::complete("0002-Reading configuration\n")) << "a continued reply is not complete";
  const auto lines = BirdClient::parse(reply);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[2].code, 1002) << "a leading space continues the previous code";
  EXPECT_EQ(lines[4].code, 0);
}

TEST(BirdClientTest, ConfigureProtocolsBfdAndErrors) {
  test::TempDir dir;
  const std::string path = dir.file("bird.ctl");
  FakeBird bird(path, [](const std::string& command) -> std::string {
    if (command == "configure") return "0002-Reading configuration from /etc/bird/bird.conf\n0003 Reconfigured\n";
    if (command == "show protocols") {
      return "2002-Name       Proto      Table      State  Since         Info\n"
             "1002-router1    BGP        ---        up     10:10:15.001  Established   \n"
             " bfd1       BFD        ---        up     10:10:14.566  \n0000 \n";
    }
    if (command == "show bfd sessions") {
      return "1020-bfd1:\n IP address                Interface  State      Since         Interval  Timeout\n"
             " 10.98.0.1                 lbr0       Up         10:10:15.100    0.100    0.300\n0000 \n";
    }
    return "9001 syntax error, unexpected CF_SYM_UNDEFINED\n";
  });
  const BirdClient client(path, std::chrono::milliseconds(1000));
  EXPECT_TRUE(client.configure().ok());
  auto protocols = client.protocols();
  ASSERT_TRUE(protocols.ok()) << protocols.error().message;
  ASSERT_EQ(protocols->size(), 2u);
  EXPECT_EQ((*protocols)[0].name, "router1");
  EXPECT_EQ((*protocols)[0].state, "up");
  EXPECT_EQ((*protocols)[0].info, "Established   ");
  auto bfd = client.bfd_sessions();
  ASSERT_TRUE(bfd.ok());
  ASSERT_EQ(bfd->size(), 1u);
  EXPECT_EQ((*bfd)[0].address, "10.98.0.1");
  EXPECT_EQ((*bfd)[0].state, "Up");
  auto bad = client.command("bogus");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "BIRD refused \"bogus\": syntax error, unexpected CF_SYM_UNDEFINED");
}

TEST(BirdClientTest, AConfigBirdRejectsAndAMissingOrSilentBirdAreErrors) {
  test::TempDir dir;
  {
    FakeBird bird(dir.file("bird.ctl"), [](const std::string&) {
      return std::string("0002-Reading configuration from /etc/bird/bird.conf\n8002 /run/eclb/bird-vips.conf:3:3 syntax error\n");
    });
    auto refused = BirdClient(dir.file("bird.ctl"), std::chrono::milliseconds(1000)).configure();
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("bird-vips.conf:3:3 syntax error"), std::string::npos) << refused.error().message;
  }
  auto missing = BirdClient(dir.file("none.ctl"), std::chrono::milliseconds(200)).configure();
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("cannot reach BIRD"), std::string::npos);
  // Accepts, never answers: the timeout holds.
  const int silent = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, dir.file("silent.ctl").c_str(), sizeof address.sun_path - 1);
  ASSERT_EQ(bind(silent, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(silent, 1), 0);
  const auto started = std::chrono::steady_clock::now();
  auto timed_out = BirdClient(dir.file("silent.ctl"), std::chrono::milliseconds(200)).configure();
  EXPECT_FALSE(timed_out.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  close(silent);
}

TEST(AnnouncerTest, TheIncludeListsTheAnnouncedAddressesAndIsReadBack) {
  const std::set<IpAddress> announced{*IpAddress::parse("10.0.0.100"), *IpAddress::parse("2001:db8::100")};
  const std::string include = Announcer::render_include(announced);
  EXPECT_NE(include.find("protocol static eclb_vips4 {\n  ipv4;\n  route 10.0.0.100/32 blackhole;\n}"), std::string::npos)
      << include;
  EXPECT_NE(include.find("protocol static eclb_vips6 {\n  ipv6;\n  route 2001:db8::100/128 blackhole;\n}"), std::string::npos);
  EXPECT_EQ(Announcer::parse_include(include), announced);
  EXPECT_TRUE(Announcer::parse_include(Announcer::render_include({})).empty());
}

TEST(AnnouncerTest, ChangesArePushedToBirdAndARefusalIsRetried) {
  test::TempDir dir;
  std::atomic<bool> refuse{true};
  FakeBird bird(dir.file("bird.ctl"), [&](const std::string&) {
    return std::string(refuse ? "8002 bird.conf:1:1 cannot open\n" : "0003 Reconfigured\n");
  });
  AnnounceConfig config;
  config.bird_socket = dir.file("bird.ctl");
  config.include_path = dir.file("vips.conf");
  Announcer announcer(config);
  AnnounceInputs inputs;
  inputs.dataplane = {true, 10, 1};
  inputs.published_generation = 1;
  VipServing web;
  web.name = "web";
  web.address = *IpAddress::parse("10.0.0.100");
  web.backends = web.up = 2;
  inputs.vips = {web};
  announcer.evaluate(inputs);
  EXPECT_FALSE(announcer.bird_error().empty());
  EXPECT_FALSE(announcer.state()[0].announced) << "BIRD did not take it";
  refuse = false;
  announcer.evaluate(inputs);
  EXPECT_TRUE(announcer.bird_error().empty());
  EXPECT_TRUE(announcer.state()[0].announced);
  const size_t pushes = bird.commands.size();
  announcer.evaluate(inputs);
  EXPECT_EQ(bird.commands.size(), pushes) << "no change, no push";
  announcer.withdraw("");
  announcer.evaluate(inputs);
  EXPECT_FALSE(announcer.state()[0].announced);
  EXPECT_EQ(announcer.state()[0].verdict.reason, "web: withdrawn by the operator");

  // A restarted eclb-control adopts what the include says.
  announcer.announce("");
  announcer.evaluate(inputs);
  Announcer restarted(config);
  inputs.vips[0].unsettled = "vm1 not checked yet";
  restarted.evaluate(inputs);
  EXPECT_TRUE(restarted.state()[0].announced) << "announced before: no settling needed";
}

}  // namespace
}  // namespace eclb::ctl
