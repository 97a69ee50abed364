// Structured output: Ollama's `format` ("json", or a JSON schema object; OpenAI's response_format
// maps onto it) compiled into a grammar (grammar.h) whose sentences are valid JSON documents that
// satisfy the schema. What is supported, and what is rejected rather than ignored, is listed in
// docs/API.md ("Structured output").
#pragma once
#include <memory>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"
#include "util/status.h"

namespace paddock::grammar {

// Whitespace between JSON tokens is bounded (one space or tab, or a newline and up to
// kMaxIndent spaces/tabs) so a model cannot loop on it; numbers are bounded in length too.
inline constexpr uint32_t kMaxIndent = 24;
inline constexpr uint32_t kMaxIntDigits = 16;   // integer part
inline constexpr uint32_t kMaxFracDigits = 16;  // fraction
inline constexpr uint32_t kMaxExpDigits = 2;     // so every number fits a double

// What compiling one schema may cost, whatever the schema (a client's `format` is compiled before
// it is admitted). Each shared piece is compiled once: a $ref target is one rule, and a schema
// reached again through allOf merges reuses what it compiled to. Past a limit the compile fails
// with kInvalidArgument naming it (the server answers 400); the grammar's own size is bounded by
// GrammarBuilder::kMaxElements and kMaxRepeat.
struct SchemaLimits {
  static constexpr int kMaxDepth = 64;             // schemas inside schemas, each $ref hop included
  static constexpr size_t kMaxSteps = 100'000;     // schema nodes compiled, allOf parts and members merged
  static constexpr size_t kMaxPrefixItems = 1024;  // tuple items (each nests one level deeper)
};

// "json": any JSON object (what Ollama's format "json" and OpenAI's json_object give). A schema
// object: documents valid against it. Anything else, or a schema using a keyword that would change
// validity and is not supported, is kInvalidArgument with a message naming the keyword and where.
// Object members are compiled in the order the schema was written when it comes as an
// ordered_json (as Ollama does: a model writes "reasoning" before "answer" if the schema says so);
// a plain nlohmann::json (converted implicitly) has already sorted its keys.
Result<std::shared_ptr<const Grammar>> compile_format(const nlohmann::ordered_json& format);

// A JSON schema (object or boolean) compiled to a grammar.
Result<std::shared_ptr<const Grammar>> compile_json_schema(const nlohmann::ordered_json& schema);

}  // namespace paddock::grammar
