// bench/svg: the two chart kinds the HTML report draws, as inline SVG text (no script, no
// external resource): a histogram with percentile markers, and line series on linear axes.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace paddock::bench {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), x ascending
};

// `values` in the unit named by `unit`; bins span 0 .. the 99.5th percentile (higher values land
// in the last bin, which says so). Dashed markers at p50, p90, p99.
std::string svg_histogram(std::vector<double> values, const std::string& title, const std::string& unit,
                          const std::string& ylabel);
std::string svg_lines(const std::vector<Series>& series, const std::string& title, const std::string& xlabel,
                      const std::string& ylabel);
std::string html_escape(const std::string& s);

}  // namespace paddock::bench
