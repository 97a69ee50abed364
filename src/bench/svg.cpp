// bench/svg: axes with round ticks, histograms and line charts drawn as SVG elements.
#include "bench/svg.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "bench/stats.h"

namespace paddock::bench {

namespace {
constexpr double kW = 560, kH = 260;                  // view box
constexpr double kL = 62, kR = 16, kT = 28, kB = 44;  // margins
constexpr const char* kColors[] = {"#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#4a5568"};

// A round step that gives about `n` ticks over [0, hi].
double tick_step(double hi, int n) {
  if (!(hi > 0)) return 1;
  const double raw = hi / n, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

std::string num(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (a >= 1e4) return fmt::format("{:g}k", v / 1e3);
  return fmt::format("{:g}", std::round(v * 1000) / 1000);
}

struct Frame {
  double xmax, ymax;
  double top = kT;                            // more when a legend sits above the plot
  double h() const { return kH + top - kT; }  // the whole height
  double x(double v) const { return kL + (kW - kL - kR) * (xmax > 0 ? v / xmax : 0); }
  double y(double v) const { return h() - kB - (h() - top - kB) * (ymax > 0 ? v / ymax : 0); }
};

// Opening tag, title, grid, ticks and axis labels; the caller adds the marks and closes.
std::string axes(const Frame& f, const std::string& title, const std::string& xlabel, const std::string& ylabel,
                 double xstep, double ystep) {
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\">"
      "<title>{}</title><text x=\"{}\" y=\"18\" class=\"t\">{}</text>",
      kW, f.h(), kW, f.h(), html_escape(title), kL, html_escape(title));
  for (double v = 0; v <= f.ymax * 1.0001; v += ystep)
    s += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"g\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"yl\">{}</text>",
        kL, f.y(v), kW - kR, f.y(v), kL - 6, f.y(v) + 4, num(v));
  for (double v = 0; v <= f.xmax * 1.0001; v += xstep)
    s += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"a\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"xl\">{}</text>",
        f.x(v), f.h() - kB, f.x(v), f.h() - kB + 5, f.x(v), f.h() - kB + 18, num(v));
  s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"a\"/>", kL, f.h() - kB, kW - kR, f.h() - kB);
  s +=
      fmt::format("<text x=\"{}\" y=\"{}\" class=\"xl\">{}</text>", (kL + kW - kR) / 2, f.h() - 8, html_escape(xlabel));
  s += fmt::format("<text x=\"14\" y=\"{}\" class=\"xl\" transform=\"rotate(-90 14 {})\">{}</text>",
                   (f.top + f.h() - kB) / 2, (f.top + f.h() - kB) / 2, html_escape(ylabel));
  return s;
}
}  // namespace

std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string svg_histogram(std::vector<double> v, const std::string& title, const std::string& unit,
                          const std::string& ylabel) {
  if (v.empty()) return "";
  const double p50 = percentile(v, 0.5), p90 = percentile(v, 0.9), p99 = percentile(v, 0.99);
  const double hi_raw = std::max(percentile(v, 0.995), v.back() > 0 ? v.back() * 1e-3 : 1e-9);
  const double step = tick_step(hi_raw, 6);
  const double hi = std::ceil(hi_raw / step) * step;
  constexpr int kBins = 40;
  std::vector<size_t> bins(kBins, 0);
  for (double x : v) bins[std::clamp(static_cast<int>(x / hi * kBins), 0, kBins - 1)]++;
  const double top = static_cast<double>(*std::max_element(bins.begin(), bins.end()));
  const double ystep = tick_step(top, 4);
  Frame f{hi, std::ceil(top / ystep) * ystep};
  std::string s = axes(f, title, unit + (v.back() > hi ? " (last bin: all above)" : ""), ylabel, step, ystep);
  const double bw = (kW - kL - kR) / kBins;
  for (int i = 0; i < kBins; ++i) {
    if (!bins[i]) continue;
    const double y = f.y(static_cast<double>(bins[i]));
    s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" class=\"b\"/>",
                     kL + i * bw + 0.5, y, bw - 1, kH - kB - y);
  }
  const std::pair<const char*, double> marks[] = {{"p50", p50}, {"p90", p90}, {"p99", p99}};
  for (size_t i = 0; i < 3; ++i) {
    const double x = f.x(std::min(marks[i].second, hi));
    const bool left = x > kW - kR - 90;  // label on the left of its line near the right edge
    s += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" class=\"m\"/>"
        "<text x=\"{:.1f}\" y=\"{}\" class=\"ml\"{}>{} {}</text>",
        x, kT, x, kH - kB, left ? x - 3 : x + 3, kT + 10 + 11 * i, left ? " text-anchor=\"end\"" : "", marks[i].first,
        num(marks[i].second));
  }
  return s + "</svg>";
}

std::string svg_lines(const std::vector<Series>& series, const std::string& title, const std::string& xlabel,
                      const std::string& ylabel) {
  double xmax = 0, ymax = 0;
  for (auto& s : series)
    for (auto [x, y] : s.points) {
      xmax = std::max(xmax, x);
      ymax = std::max(ymax, y);
    }
  const double xstep = tick_step(xmax, 6), ystep = tick_step(ymax, 4);
  Frame f{std::max(std::ceil(xmax / xstep) * xstep, xstep), std::max(std::ceil(ymax / ystep) * ystep, ystep),
          kT + 14.0 * static_cast<double>((series.size() + 1) / 2)};  // legend: two entries a row
  std::string s = axes(f, title, xlabel, ylabel, xstep, ystep);
  for (size_t i = 0; i < series.size(); ++i) {
    const char* color = kColors[i % std::size(kColors)];
    std::string pts;
    for (auto [x, y] : series[i].points) pts += fmt::format("{:.1f},{:.1f} ", f.x(x), f.y(y));
    s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"/>", pts, color);
    if (series[i].points.size() <= 24)
      for (auto [x, y] : series[i].points)
        s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>", f.x(x), f.y(y), color);
    const double lx = kL + (i % 2) * (kW - kL - kR) / 2, ly = kT - 4 + 14 * static_cast<double>(i / 2);
    s += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"10\" height=\"10\" fill=\"{}\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"lg\">{}</text>",
        lx, ly, color, lx + 14, ly + 9, html_escape(series[i].name));
  }
  return s + "</svg>";
}

}  // namespace paddock::bench
