// MetricsExporter: eclb-control's Prometheus text (GET /metrics): publications, health
// checks, the published tables per VIP and member, the dataplane's counters (stats
// region) and the L7 proxy's. The table and stats regions stay mapped between scrapes and
// are mapped again only when their writer replaced them (a retired table region, a
// restarted dataplane), so a scrape costs a snapshot copy, not an attach and a
// validation. Runs on the daemon's loop thread.
#pragma once

#include <optional>
#include <string>

#include "common/stats_reader.h"
#include "common/table_segment.h"

namespace eclb::ctl {

class ControlDaemon;
class PrometheusText;

class MetricsExporter {
 public:
  explicit MetricsExporter(ControlDaemon& daemon) : daemon_(daemon) {}
  std::string render();

 private:
  void refresh_mappings();
  void render_l7(PrometheusText& out) const;

  ControlDaemon& daemon_;
  std::optional<TableSegment> segment_;
  std::optional<StatsReader> stats_;
};

}  // namespace eclb::ctl
