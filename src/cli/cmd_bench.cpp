// `paddock bench`: load-tests an Ollama-API or OpenAI-API endpoint (ours or any other) and reports
// TTFT, inter-token and end-to-end latency percentiles, throughput and goodput (src/bench/).
#include <iostream>

#include "bench/bench.h"
#include "cli/client.h"
#include "cli/command.h"

namespace paddock::cli {
namespace {

struct BenchFlags {
  bench::Options o;
  std::string api = "generate", arrival = "poisson", input = "128", output = "64", sweep;
  bool no_stream = false;
};

// "1,8,32" (concurrencies) or "rate:100,200" / "concurrency:1,8".
Status parse_sweep(const std::string& text, bench::Options& o) {
  std::string list = text;
  if (list.starts_with("rate:")) {
    o.sweep_rates = true;
    list = list.substr(5);
  } else if (list.starts_with("concurrency:")) {
    list = list.substr(12);
  } else if (o.rate > 0) {
    o.sweep_rates = true;  // with --rate, a bare list is of rates
  }
  for (size_t b = 0; b <= list.size();) {
    size_t e = list.find(',', b);
    if (e == std::string::npos) e = list.size();
    const std::string item = list.substr(b, e - b);
    try {
      size_t used = 0;
      o.sweep.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      return make_error(ErrorCode::kInvalidArgument, "invalid --sweep '{}': expected numbers separated by commas",
                        text);
    }
    b = e + 1;
  }
  return Status();
}

int run_bench(BenchFlags& f) {
  auto fail = [](const Error& e) {
    std::cerr << "Error: " << e.message() << "\n";
    return 1;
  };
  auto api = bench::parse_api(f.api);
  if (!api.ok()) return fail(api.error());
  f.o.api = *api;
  f.o.stream = !f.no_stream;
  if (f.arrival == "poisson") f.o.arrival = bench::Arrival::kPoisson;
  else if (f.arrival == "constant") f.o.arrival = bench::Arrival::kConstant;
  else return fail(Error(ErrorCode::kInvalidArgument, "--arrival must be poisson or constant"));
  auto in = bench::LengthDist::parse(f.input);
  if (!in.ok()) return fail(in.error().wrap("--input-tokens"));
  auto out = bench::LengthDist::parse(f.output);
  if (!out.ok()) return fail(out.error().wrap("--output-tokens"));
  f.o.input_tokens = *in;
  f.o.output_tokens = *out;
  if (!f.sweep.empty())
    if (auto st = parse_sweep(f.sweep, f.o); !st.ok()) return fail(st.error());
  if (f.o.api_key.empty())
    if (const char* k = std::getenv("PADDOCK_API_KEY"); k && *k) f.o.api_key = k;
  auto st = bench::run(f.o);
  if (!st.ok()) return fail(st.error());
  return 0;
}

Registration reg(
    {"bench", 70, [](CLI::App& app, std::function<int()>& run) {
       auto* sub =
           app.add_subcommand("bench", "Load-test an Ollama or OpenAI API endpoint (latency, throughput, goodput)");
       auto f = std::make_shared<BenchFlags>();
       auto& o = f->o;
       o.url = Client::from_env().base();
       sub->add_option("--host,--url", o.url,
                       "Endpoint: http[s]://host:port[/prefix] (default: PADDOCK_HOST/OLLAMA_HOST)")
           ->capture_default_str();
       sub->add_option("-m,--model", o.model, "Model name to request (required)");
       sub->add_option("--api", f->api, "generate | chat | openai-chat | openai-completions")->capture_default_str();
       sub->add_flag("--no-stream", f->no_stream, "Ask for whole answers (no TTFT or inter-token figures)");
       sub->add_option("--api-key", o.api_key, "Bearer token (default: PADDOCK_API_KEY)");
       sub->add_flag("--insecure,-k", o.insecure, "TLS: do not verify the server's certificate");
       sub->add_option("--cacert", o.cacert, "TLS: trust the PEM certificates in this file");
       auto* g = "Load";
       sub->add_option("-c,--concurrency", o.concurrency,
                       "Closed loop: clients, each sending its next request when answered")
           ->capture_default_str()
           ->group(g);
       sub->add_option("-n,--requests", o.requests, "Requests per run (default 100 unless --duration)")->group(g);
       sub->add_option("-d,--duration", o.duration_s,
                       "Seconds per run (closed loop: stop sending after; open: rate x duration arrivals)")
           ->group(g);
       sub->add_option("-r,--rate", o.rate, "Open loop: arrivals per second")->group(g);
       sub->add_option("--arrival", f->arrival, "Open loop: poisson | constant")->capture_default_str()->group(g);
       sub->add_option("--max-inflight", o.max_inflight, "Open loop: at most this many requests in flight (0 = no cap)")
           ->group(g);
       sub->add_option("--late-threshold", o.late_threshold_ms,
                       "Open loop: a send this many ms behind schedule counts as late")
           ->capture_default_str()
           ->group(g);
       sub->add_option("--sweep", f->sweep, "Runs at several loads: 1,8,32 (concurrency) or rate:10,50,100")->group(g);
       sub->add_option("--compare", o.compare_url, "A second endpoint to run the same load against (ratios printed)")
           ->group(g);
       sub->add_option("--compare-model", o.compare_model, "Model name on the second endpoint (default: --model)")
           ->group(g);
       sub->add_option("--warmup", o.warmup,
                       "Requests sent before each run and not counted (they open its connections)")
           ->group(g);
       sub->add_option("--timeout", o.timeout_s, "Seconds before a request counts as timed out")
           ->capture_default_str()
           ->group(g);
       sub->add_option("--threads", o.threads, "I/O threads (default min(4, cores))")->group(g);
       auto* p = "Prompts";
       sub->add_option("--prompts", o.prompts_file,
                       "JSONL file: {\"prompt\": ...} or {\"messages\": [...]}, optional \"output_tokens\"")
           ->group(p);
       sub->add_option("--input-tokens", f->input, "Synthetic prompt length: N, A-B, normal:MEAN:SD, exp:MEAN")
           ->capture_default_str()
           ->group(p);
       sub->add_option("--output-tokens", f->output, "Output length (num_predict / max_tokens), same forms")
           ->capture_default_str()
           ->group(p);
       sub->add_option("--seed", o.seed, "Seed for prompts, lengths and arrivals")->capture_default_str()->group(p);
       sub->add_option("--num-prompts", o.num_prompts, "Distinct prompts (default: one per request, up to 10000)")
           ->group(p);
       sub->add_flag("--calibrate", o.calibrate, "Measure the server's tokens per synthetic word first (2 requests)")
           ->group(p);
       sub->add_flag("--ignore-eos", o.ignore_eos,
                     "Ask the server to ignore end-of-sequence (vLLM, llama.cpp; Ollama and Paddock ignore it)")
           ->group(p);
       sub->add_option("--options", o.extra_options,
                       "JSON object merged into the request options (e.g. '{\"temperature\":0}')")
           ->group(p);
       auto* r = "Report";
       sub->add_option("--slo-ttft", o.slo_ttft_ms, "Goodput objective: time to first token, ms")->group(r);
       sub->add_option("--slo-latency", o.slo_latency_ms, "Goodput objective: end-to-end latency, ms")->group(r);
       sub->add_option("--json", o.json_path, "Write the JSON report here")->group(r);
       sub->add_option("--html", o.html_path, "Write the HTML report (self-contained, with charts) here")->group(r);
       sub->add_flag("-q,--quiet", o.quiet, "No progress line")->group(r);
       run = [f] { return run_bench(*f); };
       return sub;
     }});

}  // namespace
}  // namespace paddock::cli
