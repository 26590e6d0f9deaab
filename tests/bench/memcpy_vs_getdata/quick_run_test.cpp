// Runs `memcpy_vs_getdata --quick` for real (natively where the host has ublk, else in the qemu VM)
// and checks what it produced: every row and column of both tables with plausible values, the CSV,
// and the PNG. Usage: memcpy_vs_getdata_quick_test BINARY OUT_DIR

#include <gtest/gtest.h>

#include <string_view>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

std::string g_binary;
fs::path g_out;  // --out; the run itself is in g_out/latest
fs::path g_run;
int g_exit = -1;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, sep)) fields.push_back(field);
  if (!line.empty() && line.back() == sep) fields.emplace_back();
  return fields;
}

const std::vector<std::string> kTable2Modes{"copy_app_copy", "get_data", "user_copy", "copy", "shmem_zc"};
const std::vector<std::string> kTable1Modes{"copy_no_data", "copy", "get_data", "user_copy", "shmem_zc"};
const std::vector<std::string> kBlockSizes{"4k", "64k", "128k", "256k", "512k", "1m"};

void expect_plausible(const nlohmann::json& cell, const std::string& where) {
  ASSERT_TRUE(cell.is_object()) << where << " was not measured";
  double p50 = cell.at("p50_us").get<double>();
  double p99 = cell.at("p99_us").get<double>();
  EXPECT_GT(p50, 0) << where;
  EXPECT_GE(p99, p50) << where;
  EXPECT_GT(cell.at("mean_us").get<double>(), 0) << where;
  EXPECT_GT(cell.at("iops").get<double>(), 0) << where;
}

class QuickRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::remove_all(g_out);
    fs::create_directories(g_out);
    std::string command = "'" + g_binary + "' --quick --out '" + g_out.string() + "' > '" +
                          (g_out / "stdout.txt").string() + "'";
    int st = std::system(command.c_str());
    g_exit = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    std::error_code ec;
    g_run = fs::canonical(g_out / "latest", ec);
  }
};

TEST_F(QuickRun, ExitsCleanlyAndPrintsBothTables) {
  EXPECT_EQ(g_exit, 0);
  auto out = read_file(g_out / "stdout.txt");
  EXPECT_NE(out.find("Table 2: rw=randwrite"), std::string::npos) << out;
  EXPECT_NE(out.find("Table 1: null target"), std::string::npos);
  EXPECT_NE(out.find("Recommendation ("), std::string::npos);
  EXPECT_NE(out.find("Plot: " + (g_run / "latency.png").string()), std::string::npos);
}

TEST_F(QuickRun, JsonHasEveryRowAndColumnWithPlausibleValues) {
  auto doc = nlohmann::json::parse(read_file(g_run / "results.json"));
  const auto& env = doc.at("environment");
  EXPECT_TRUE(env.at("where") == "native" || env.at("where") == "vm") << env.dump();
  EXPECT_FALSE(env.at("kernel").get<std::string>().empty());

  const auto& table2 = doc.at("table2");
  ASSERT_EQ(table2.size(), kBlockSizes.size());
  for (std::size_t i = 0; i < kBlockSizes.size(); ++i) {
    EXPECT_EQ(table2[i].at("block_size"), kBlockSizes[i]);
    for (const auto& mode : kTable2Modes) {
      expect_plausible(table2[i].at("modes").at(mode), "table2 " + kBlockSizes[i] + " " + mode);
    }
    EXPECT_GT(table2[i].at("ratio_2memcpy_over_get_data").get<double>(), 0);
  }
  const auto& table1 = doc.at("table1");
  ASSERT_EQ(table1.size(), 2u);
  for (const auto& row : table1) {
    for (const auto& mode : kTable1Modes) {
      expect_plausible(row.at("modes").at(mode), "table1 " + row.at("rw").get<std::string>() + " " + mode);
    }
  }
  EXPECT_FALSE(doc.at("recommendation").at("line").get<std::string>().starts_with("no recommendation"));
}

TEST_F(QuickRun, CsvHasEveryCell) {
  std::istringstream csv(read_file(g_run / "results.csv"));
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  auto header = split(line, ',');
  ASSERT_EQ(header.size(), 12u) << line;
  EXPECT_EQ(header[6], "p50_us");
  EXPECT_EQ(header[7], "p99_us");
  std::size_t rows = 0;
  while (std::getline(csv, line)) {
    auto f = split(line, ',');
    ASSERT_EQ(f.size(), 12u) << line;
    EXPECT_GE(std::stoi(f[5]), 1) << line;
    EXPECT_GT(std::stod(f[6]), 0) << line;
    EXPECT_GE(std::stod(f[7]), std::stod(f[6])) << line;
    // Each column makes the copies it claims, by the daemon's own count.
    ASSERT_FALSE(f[10].empty()) << line;
    double copies = std::stod(f[10]);
    if (f[3] == "copy_app_copy") {
      EXPECT_NEAR(copies, 2.0, 0.05) << line;
    } else if (f[3] == "shmem_zc") {
      EXPECT_EQ(copies, 0.0) << line;
    } else if (f[3] != "copy_no_data") {
      EXPECT_NEAR(copies, 1.0, 0.05) << line;
    }
    EXPECT_TRUE(f[11].empty()) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 36u);  // 30 cells of Table 2, 6 more for Table 1
}

TEST_F(QuickRun, DrawsThePlot) {
  auto png = read_file(g_run / "latency.png");
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST_F(QuickRun, LeavesNoDaemonBehind) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    auto comm = read_file(entry.path() / "comm");
    EXPECT_NE(comm, "ublk-pool-null\n") << "pid " << entry.path().filename();
  }
  for (const auto& entry : fs::directory_iterator("/dev")) {
    EXPECT_FALSE(entry.path().filename().string().starts_with("ublkb")) << entry.path();
  }
}

}  // namespace

int main(int argc, char** argv) {
  constexpr const char* kUsage =
      "usage: memcpy_vs_getdata_quick_test [gtest flags] BINARY OUT_DIR\n"
      "Runs `BINARY --quick --out OUT_DIR` on a ublk kernel and checks its tables, CSV and plot.\n";
  if (argc == 2 && std::string_view(argv[1]) == "--help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  g_binary = argv[1];
  g_out = argv[2];
  return RUN_ALL_TESTS();
}
