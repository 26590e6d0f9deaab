#include "mvg/report.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

#include "mvg/recommendation.hpp"
#include "mvg/seed.hpp"
#include "mvg/text_table.hpp"

namespace mvg {
namespace {

std::string fixed(double value, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string p50_p99(const CellSummary* s) {
  return s ? format_us(s->p50_us) + " / " + format_us(s->p99_us) : "n/a";
}

std::optional<double> ratio(std::optional<double> num, std::optional<double> den) {
  if (!num || !den || *den <= 0) return std::nullopt;
  return *num / *den;
}

std::string where_text(const Environment& env) {
  if (env.native) return "native, kernel " + env.kernel;
  return "VM (qemu, kernel " + env.kernel + "). TCG emulation: compare ratios, not absolute latencies";
}

nlohmann::json cell_figures(const CellSummary* s) {
  if (!s) return nullptr;
  return {{"p50_us", s->p50_us}, {"p99_us", s->p99_us}, {"mean_us", s->mean_us}, {"iops", s->iops}};
}

// Text inside a gnuplot '...' string: a quote is written twice.
std::string gnuplot_single_quoted(const std::string& text) {
  std::string out;
  for (char ch : text) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out;
}

nlohmann::json optional_number(std::optional<double> v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// Under a table, why a column has no figures at all (e.g. the kernel lacks the mode): the first
// error of that mode's cells in the table. A column the bench was told to leave out just has gaps.
template <std::size_t N>
std::string unmeasured_columns_text(const Results& results, const std::array<Mode, N>& modes,
                                    const std::vector<Cell>& table_cells) {
  std::string out;
  for (auto mode : modes) {
    std::string why;
    bool measured = false;
    for (auto cell : table_cells) {
      cell.mode = mode;
      for (const auto& c : results.cells()) {
        if (!(c.cell == cell)) continue;
        measured = measured || c.measured();
        if (why.empty() && c.error != kNotRun) why = c.error;
      }
    }
    if (!measured && !why.empty()) out.append(info(mode).label).append(": n/a: ").append(why).append("\n");
  }
  return out;
}

std::vector<Cell> table2_cells() {
  std::vector<Cell> cells;
  for (auto bs : kTable2BlockSizes) cells.push_back({"randwrite", bs, Mode::Copy});
  return cells;
}

std::vector<Cell> table1_cells() {
  std::vector<Cell> cells;
  for (const auto& rw : kTable1Workloads) cells.push_back({rw, kTable1BlockSize, Mode::Copy});
  return cells;
}

}  // namespace

std::string header_text(const Report& report) {
  const auto& s = report.settings;
  std::string out;
  out += "memcpy_vs_getdata: the seed's NEED_GET_DATA tables, re-measured on ublk-pool-null\n";
  if (report.env.dry_run) {
    out += "DRY RUN: fio wrote to a regular file, not to ublk devices. These figures say nothing about ublk.\n";
  } else {
    out += "Where: " + where_text(report.env) + ".\n";
  }
  out += "Date: " + report.env.date + "\n";
  out += "Load: fio direct=1 ioengine=libaio iodepth=1 numjobs=1, " + fixed(s.runtime_s, 1) +
         " s per run after a " + fixed(s.ramp_s, 1) + " s ramp; daemons --max-io " + s.max_io +
         " --queues 1.\n";
  out += "Latency: fio's lat (submission to completion), usec. Each cell: p50 / p99 = median over " +
         std::to_string(s.reps) +
         " runs of fio's percentiles. The modes are interleaved within each repetition.\n";
  out += "Seed: fio mean lat, usec, native machine (NEED_GET_DATA patch v4 cover letter, 2022).\n";
  return out;
}

std::string table2_text(const Results& results) {
  std::vector<std::string> headers{"bs"};
  for (auto mode : kTable2Modes) headers.emplace_back(info(mode).label);
  headers.insert(headers.end(), {"ratio 2-memcpy/get_data", "seed 2 memcpy", "seed get_data",
                                 "seed ratio"});
  TextTable table(headers);
  for (auto bs : kTable2BlockSizes) {
    std::vector<std::string> row{format_block_size(bs)};
    for (auto mode : kTable2Modes) row.push_back(p50_p99(results.find({"randwrite", bs, mode})));
    row.push_back(format_ratio(ratio(results.p50("randwrite", bs, Mode::AppCopy),
                                     results.p50("randwrite", bs, Mode::GetData))));
    auto seed = seed::table2_row(bs);
    row.push_back(seed ? format_us(seed->two_memcpy_us) : "n/a");
    row.push_back(seed ? format_us(seed->get_data_us) : "n/a");
    row.push_back(seed ? format_ratio(seed->two_memcpy_us / seed->get_data_us) : "n/a");
    table.add_row(row);
  }
  return "Table 2: rw=randwrite, latency p50 / p99 (usec). Columns: copy --app-copy = 2 memcpy "
         "(seed: w/o NEED_GET_DATA); get_data = 1 memcpy (seed: w/ NEED_GET_DATA); user_copy = "
         "1 memcpy, no extra round trip; copy = 1 memcpy, data never needed; shmem_zc = no memcpy: "
         "copy --shmem-file F, fio --mem=mmaphuge:F (UBLK_F_SHMEM_ZC, Linux 7.1+).\n" +
         table.render() + unmeasured_columns_text(results, kTable2Modes, table2_cells());
}

std::string table1_text(const Results& results) {
  std::vector<std::string> headers{"rw, bs=4k"};
  for (auto mode : kTable1Modes) headers.emplace_back(info(mode).label);
  headers.insert(headers.end(), {"get_data/copy", "seed baseline", "seed disabled", "seed enabled",
                                 "seed enabled/disabled"});
  TextTable table(headers);
  for (const auto& rw : kTable1Workloads) {
    std::vector<std::string> row{rw};
    for (auto mode : kTable1Modes) row.push_back(p50_p99(results.find({rw, kTable1BlockSize, mode})));
    row.push_back(format_ratio(ratio(results.p50(rw, kTable1BlockSize, Mode::GetData),
                                     results.p50(rw, kTable1BlockSize, Mode::Copy))));
    auto seed = seed::table1_row(rw);
    row.push_back(seed ? format_us(seed->baseline_us) : "n/a");
    row.push_back(seed ? format_us(seed->disabled_us) : "n/a");
    row.push_back(seed ? format_us(seed->enabled_us) : "n/a");
    row.push_back(seed ? format_ratio(seed->enabled_us / seed->disabled_us) : "n/a");
    table.add_row(row);
  }
  return "Table 1: null target, bs=4k, latency p50 / p99 (usec). The seed's columns map to: "
         "baseline (old code) -> copy --no-data (frontend overhead, data never read); NEED_GET_DATA "
         "disabled -> copy; enabled -> get_data. user_copy and shmem_zc have no seed counterpart.\n" +
         table.render() + unmeasured_columns_text(results, kTable1Modes, table1_cells());
}

std::string copies_text(const Results& results) {
  std::string out = "Copies per WRITE byte, as the daemons counted them (kernel + userspace):";
  bool any = false;
  for (auto mode : kAllModes) {
    std::optional<double> lo, hi;
    for (const auto& c : results.cells()) {
      if (c.cell.mode != mode || !c.copies_per_write_byte) continue;
      lo = std::min(lo.value_or(*c.copies_per_write_byte), *c.copies_per_write_byte);
      hi = std::max(hi.value_or(*c.copies_per_write_byte), *c.copies_per_write_byte);
    }
    if (!lo) continue;
    out += std::string(any ? "," : "") + " " + std::string(info(mode).label) + " " + fixed(*lo, 2);
    if (fixed(*lo, 2) != fixed(*hi, 2)) out.append("-").append(fixed(*hi, 2));
    any = true;
  }
  return any ? out + ".\n" : out + " not reported.\n";
}

std::optional<std::uint64_t> measured_crossover(const Results& results) {
  std::optional<std::uint64_t> from;
  for (auto bs : kTable2BlockSizes) {
    auto two = results.p50("randwrite", bs, Mode::AppCopy);
    auto one = results.p50("randwrite", bs, Mode::GetData);
    if (!two || !one) return std::nullopt;
    if (*one < *two) {
      if (!from) from = bs;
    } else {
      from.reset();
    }
  }
  return from;
}

std::string model_text(const Report& report) {
  std::string out;
  if (report.cost_model) {
    const auto& m = *report.cost_model;
    out += "Cost model (native, this host, build/bin/cost_model): memcpy with a working set >> L3:";
    // Appends, not `" " + std::string`: GCC 12 -O2/-O3 flags that with a false -Wrestrict.
    for (const auto& p : m.memcpy)
      out.append(" ").append(format_block_size(p.block_size)).append(" ").append(format_us(p.us)).append(" us;");
    out += " io_uring NOP round trip " + format_us(m.round_trip_us) + " us.\n";
    out += "Predicted native crossover: " + describe(predict_crossover(m), m) +
           ". The seed's native crossover: between 4k and 64k.\n";
  } else {
    out += "Cost model: not measured (build/bin/cost_model missing or --no-model).\n";
  }
  auto measured = measured_crossover(report.results);
  out += std::string("Measured crossover in this run (") +
         (report.env.dry_run ? "dry run" : report.env.native ? "native" : "VM") +
         "): " +
         (measured ? "get_data's p50 stays below 2-memcpy's from " + format_block_size(*measured)
                   : std::string("get_data's p50 does not stay below 2-memcpy's up to 1m")) +
         ".\n";
  return out;
}

std::string results_csv(const Results& results) {
  std::string out = "rw,block_size,bytes,mode,label,reps,p50_us,p99_us,mean_us,iops,copies_per_write_byte,error\n";
  for (const auto& c : results.cells()) {
    auto number = [&c](double v) { return c.measured() ? fixed(v, 3) : std::string(); };
    out += c.cell.rw + "," + format_block_size(c.cell.block_size) + "," +
           std::to_string(c.cell.block_size) + "," + std::string(info(c.cell.mode).key) + "," +
           std::string(info(c.cell.mode).label) + "," + std::to_string(c.reps.size()) + "," +
           number(c.p50_us) + "," + number(c.p99_us) + "," + number(c.mean_us) + "," +
           number(c.iops) + "," +
           (c.copies_per_write_byte ? fixed(*c.copies_per_write_byte, 3) : std::string()) + ",";
    // An error message is free text: quote it, doubling any quote inside.
    std::string error;
    for (char ch : c.error) error += ch == '"' ? std::string("\"\"") : std::string(1, ch == '\n' ? ' ' : ch);
    out += c.error.empty() ? "" : "\"" + error + "\"";
    out += "\n";
  }
  return out;
}

nlohmann::json report_json(const Report& report) {
  using nlohmann::json;
  const auto& env = report.env;
  const auto& results = report.results;
  json doc;
  doc["environment"] = {{"where", env.dry_run ? "dry-run" : env.native ? "native" : "vm"},
                        {"kernel", env.kernel},
                        {"tcg", !env.native && !env.dry_run},
                        {"date", env.date}};
  doc["settings"] = {{"reps", report.settings.reps},
                     {"runtime_s", report.settings.runtime_s},
                     {"ramp_s", report.settings.ramp_s},
                     {"max_io", report.settings.max_io},
                     {"latency", "fio lat (submission to completion), usec; p50/p99 are fio's "
                                 "percentiles, median over the repetitions"}};
  json cells = json::array();
  for (const auto& c : results.cells()) {
    json reps = json::array();
    for (const auto& r : c.reps) {
      reps.push_back({{"p50_us", r.p50_us}, {"p99_us", r.p99_us}, {"mean_us", r.mean_us},
                      {"max_us", r.max_us}, {"iops", r.iops}, {"total_ios", r.total_ios},
                      {"latency", to_string(r.source)}});
    }
    json cell = {{"rw", c.cell.rw}, {"block_size", format_block_size(c.cell.block_size)},
                 {"bytes", c.cell.block_size}, {"mode", info(c.cell.mode).key},
                 {"label", info(c.cell.mode).label}, {"reps", reps}};
    if (c.measured()) cell.update(cell_figures(&c));
    if (c.copies_per_write_byte) cell["copies_per_write_byte"] = *c.copies_per_write_byte;
    if (!c.error.empty()) cell["error"] = c.error;
    cells.push_back(cell);
  }
  doc["cells"] = cells;

  json table2 = json::array();
  for (auto bs : kTable2BlockSizes) {
    json modes = json::object();
    for (auto mode : kTable2Modes) modes[std::string(info(mode).key)] = cell_figures(results.find({"randwrite", bs, mode}));
    auto seed = seed::table2_row(bs);
    table2.push_back(
        {{"block_size", format_block_size(bs)}, {"bytes", bs}, {"modes", modes},
         {"ratio_2memcpy_over_get_data",
          optional_number(ratio(results.p50("randwrite", bs, Mode::AppCopy),
                                results.p50("randwrite", bs, Mode::GetData)))},
         {"seed", seed ? json{{"two_memcpy_us", seed->two_memcpy_us},
                              {"get_data_us", seed->get_data_us},
                              {"ratio", seed->two_memcpy_us / seed->get_data_us}}
                       : json(nullptr)}});
  }
  doc["table2"] = table2;

  json table1 = json::array();
  for (const auto& rw : kTable1Workloads) {
    json modes = json::object();
    for (auto mode : kTable1Modes) modes[std::string(info(mode).key)] = cell_figures(results.find({rw, kTable1BlockSize, mode}));
    auto seed = seed::table1_row(rw);
    table1.push_back({{"rw", rw}, {"block_size", format_block_size(kTable1BlockSize)},
                      {"modes", modes},
                      {"seed", seed ? json{{"baseline_us", seed->baseline_us},
                                           {"disabled_us", seed->disabled_us},
                                           {"enabled_us", seed->enabled_us}}
                                    : json(nullptr)}});
  }
  doc["table1"] = table1;

  auto ranges = recommend(results);
  json jranges = json::array();
  for (const auto& r : ranges) {
    jranges.push_back({{"from", format_block_size(r.from)}, {"to", format_block_size(r.to)},
                       {"mode", info(r.mode).key}});
  }
  doc["recommendation"] = {{"ranges", jranges}, {"line", format_recommendation(ranges)}};
  auto measured = measured_crossover(results);
  doc["measured_crossover"] = measured ? json(format_block_size(*measured)) : json(nullptr);

  if (report.cost_model) {
    const auto& m = *report.cost_model;
    json points = json::array();
    for (const auto& p : m.memcpy) points.push_back({{"bytes", p.block_size}, {"us", p.us}});
    auto crossover = predict_crossover(m);
    doc["cost_model"] = {{"memcpy", points},
                         {"io_uring_nop_round_trip_us", m.round_trip_us},
                         {"predicted_crossover_bytes", crossover.block_size},
                         {"prediction", describe(crossover, m)}};
  } else {
    doc["cost_model"] = nullptr;
  }
  return doc;
}

std::string plot_data(const Results& results) {
  std::string out = "# bs_kib";
  for (auto mode : kTable2Modes) out.append(" ").append(info(mode).key).append("_p50 ").append(info(mode).key).append("_p99");
  out += "\n";
  for (auto bs : kTable2BlockSizes) {
    out += std::to_string(bs / KiB);
    for (auto mode : kTable2Modes) {
      const auto* s = results.find({"randwrite", bs, mode});
      if (s)
        out.append(" ").append(fixed(s->p50_us, 3)).append(" ").append(fixed(s->p99_us, 3));
      else
        out += " NaN NaN";
    }
    out += "\n";
  }
  return out;
}

std::string plot_script(const Report& report, const std::string& data_path,
                        const std::string& png_path) {
  std::string where = report.env.dry_run ? "DRY RUN on a regular file, not ublk"
                      : report.env.native ? "native, kernel " + report.env.kernel
                                          : "qemu TCG VM, kernel " + report.env.kernel +
                                                ": compare ratios, not absolute latencies";
  std::string out;
  // pngcairo draws dashed lines; Debian's gnuplot-nox has it, but fall back to libgd's png.
  out += "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
         "  set terminal pngcairo size 1280,650 noenhanced\n"
         "} else {\n"
         "  set terminal png size 1280,650 noenhanced\n"
         "}\n";
  out += "set output '" + png_path + "'\n";
  out += "set title \"ublk-pool-null, fio randwrite iodepth=1: lat p50 (solid) and p99 (dashed)\\n" + where + "\"\n";
  out += "set logscale x 2\nset logscale y 10\n";
  out += "set xlabel 'block size'\nset ylabel 'latency (usec)'\n";
  out += "set xtics (";
  for (std::size_t i = 0; i < kTable2BlockSizes.size(); ++i) {
    auto bs = kTable2BlockSizes[i];
    out += (i ? ", " : "") + std::string("'") + format_block_size(bs) + "' " + std::to_string(bs / KiB);
  }
  out += ")\nset key outside right top\nset grid\n";
  // p50 solid, p99 dashed in the same colour.
  out += "plot ";
  for (std::size_t i = 0; i < kTable2Modes.size(); ++i) {
    auto col = 2 + 2 * i;
    auto color = std::to_string(i + 1);
    const auto& m = info(kTable2Modes[i]);
    out += (i ? ", \\\n     " : "") + std::string("'") + data_path + "' using 1:" +
           std::to_string(col) + " with linespoints linecolor " + color + " linewidth 2 title '" +
           gnuplot_single_quoted(std::string(m.label) + " (" + std::string(m.copies) + ")") + "', \\\n     '" + data_path +
           "' using 1:" + std::to_string(col + 1) + " with lines linecolor " + color +
           " dashtype 2 notitle";
  }
  out += "\n";
  return out;
}

}  // namespace mvg
