// PrometheusText: each family is one group (HELP, TYPE, samples) however the samples
// were added, and label values are escaped.
#include "control/daemon/prometheus_text.h"

#include <gtest/gtest.h>

namespace eclb::ctl {
namespace {

TEST(PrometheusTextTest, InterleavedSamplesComeOutGroupedByFamily) {
  PrometheusText text;
  text.family("eclb_backend_healthy", "gauge", "1 when the backend is up.");
  text.family("eclb_backend_weight", "gauge", "The backend's weight.");
  // Per backend, as the exporter walks them: healthy, weight, healthy, weight.
  text.sample("eclb_backend_healthy", PrometheusText::label("backend", "vm1"), "1");
  text.sample("eclb_backend_weight", PrometheusText::label("backend", "vm1"), "2");
  text.sample("eclb_backend_healthy", PrometheusText::label("backend", "vm2"), "0");
  text.sample("eclb_backend_weight", PrometheusText::label("backend", "vm2"), "1");
  EXPECT_EQ(text.render(),
            "# HELP eclb_backend_healthy 1 when the backend is up.\n"
            "# TYPE eclb_backend_healthy gauge\n"
            "eclb_backend_healthy{backend=\"vm1\"} 1\n"
            "eclb_backend_healthy{backend=\"vm2\"} 0\n"
            "# HELP eclb_backend_weight The backend's weight.\n"
            "# TYPE eclb_backend_weight gauge\n"
            "eclb_backend_weight{backend=\"vm1\"} 2\n"
            "eclb_backend_weight{backend=\"vm2\"} 1\n");
}

TEST(PrometheusTextTest, SummariesLabelsAndFamiliesDeclaredLate) {
  PrometheusText text;
  text.sample("eclb_up", "", "1");  // declared after its sample
  text.family("eclb_up", "gauge", "Up.");
  text.family("eclb_up", "counter", "ignored: the first declaration wins");
  text.family("eclb_publish_seconds", "summary", "Publication time.");
  text.sample("eclb_publish_seconds", "eclb_publish_seconds_sum", "", "0.5");
  text.sample("eclb_publish_seconds", "eclb_publish_seconds_count", "", "2");
  EXPECT_EQ(text.render(),
            "# HELP eclb_up Up.\n# TYPE eclb_up gauge\neclb_up 1\n"
            "# HELP eclb_publish_seconds Publication time.\n# TYPE eclb_publish_seconds summary\n"
            "eclb_publish_seconds_sum 0.5\neclb_publish_seconds_count 2\n");
  EXPECT_EQ(PrometheusText::label("name", "a\"b\\c\nd"), "name=\"a\\\"b\\\\c\\nd\"");
}

}  // namespace
}  // namespace eclb::ctl
