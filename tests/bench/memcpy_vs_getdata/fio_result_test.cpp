#include "mvg/fio_result.hpp"

#include <gtest/gtest.h>

#include "fixture.hpp"

#include <nlohmann/json.hpp>

namespace mvg {
namespace {

using testing::fixture;

TEST(FioResult, ReadsTotalLatencyPercentilesWhenFioReportsThem) {
  auto r = parse_fio_json(fixture("fio-randwrite-64k-lat.json"));
  EXPECT_EQ(r.source, LatencySource::Lat);
  EXPECT_EQ(r.rw, "randwrite");
  EXPECT_EQ(r.block_size, 65536u);
  EXPECT_EQ(r.total_ios, 993u);
  EXPECT_DOUBLE_EQ(r.runtime_ms, 301);
  EXPECT_DOUBLE_EQ(r.iops, 3299.003322);
  EXPECT_DOUBLE_EQ(r.mean_us, 283.970378651);
  EXPECT_DOUBLE_EQ(r.max_us, 19091.605);
  EXPECT_DOUBLE_EQ(r.p50_us, 152.576);
  EXPECT_DOUBLE_EQ(r.p99_us, 3948.544);
}

TEST(FioResult, FallsBackToCompletionLatencyWithoutLatPercentiles) {
  auto r = parse_fio_json(fixture("fio-write-4k-clat-only.json"));
  EXPECT_EQ(r.source, LatencySource::Clat);
  EXPECT_EQ(r.rw, "write");
  EXPECT_EQ(r.block_size, 4096u);
  EXPECT_EQ(r.total_ios, 2204u);
  // clat's figures, not lat's (whose mean is 134.06 us in this file).
  EXPECT_DOUBLE_EQ(r.mean_us, 60.455115245);
  EXPECT_DOUBLE_EQ(r.p50_us, 3.088);
  EXPECT_DOUBLE_EQ(r.p99_us, 1335.296);
}

TEST(FioResult, SkipsTextFioPrintsBeforeTheDocument) {
  auto text = "fio: note: both iodepth >= 1 and synchronous I/O engine are selected\n" +
              fixture("fio-randwrite-64k-lat.json");
  EXPECT_DOUBLE_EQ(parse_fio_json(text).p50_us, 152.576);
}

TEST(FioResult, ReportsAFailedJobWithItsErrno) {
  try {
    parse_fio_json(fixture("fio-failed-job.json"));
    FAIL() << "a failed job parsed";
  } catch (const FioParseError& e) {
    EXPECT_NE(std::string(e.what()).find("error 1"), std::string::npos) << e.what();
  }
}

TEST(FioResult, RejectsWhatIsNotOneFioJob) {
  EXPECT_THROW(parse_fio_json(""), FioParseError);
  EXPECT_THROW(parse_fio_json("fio: failed to open /dev/ublkb0"), FioParseError);
  EXPECT_THROW(parse_fio_json("{\"jobs\": [ {"), FioParseError);
  EXPECT_THROW(parse_fio_json("{\"fio version\": \"fio-3.33\"}"), FioParseError);

  auto doc = nlohmann::json::parse(fixture("fio-randwrite-64k-lat.json"));
  doc["jobs"].push_back(doc["jobs"][0]);
  EXPECT_THROW(parse_fio_json(doc.dump()), FioParseError);
}

TEST(FioResult, RejectsAJobThatWroteNothing) {
  auto doc = nlohmann::json::parse(fixture("fio-randwrite-64k-lat.json"));
  doc["jobs"][0]["write"]["total_ios"] = 0;
  EXPECT_THROW(parse_fio_json(doc.dump()), FioParseError);
}

}  // namespace
}  // namespace mvg
