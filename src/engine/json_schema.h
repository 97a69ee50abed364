// Structured output: Ollama's `format` ("json", or a JSON schema object; OpenAI's response_format
// maps onto it) compiled into a grammar (grammar.h) whose sentences are valid JSON documents that
// satisfy the schema. What is supported, and what is rejected rather than ignored, is listed in
// docs/API.md ("Structured output").
#pragma once
#include <memory>

#include <nlohmann/json.hpp>

#include "engine/grammar.h"
#include "util/status.h"

namespace paddock::engine {

// Whitespace between JSON tokens is bounded (one space or tab, or a newline and up to
// kMaxIndent spaces/tabs) so a model cannot loop on it; numbers are bounded in length too.
inline constexpr uint32_t kMaxIndent = 24;
inline constexpr uint32_t kMaxIntDigits = 16;   // integer part
inline constexpr uint32_t kMaxFracDigits = 16;  // fraction
inline constexpr uint32_t kMaxExpDigits = 2;     // so every number fits a double

// "json": any JSON object (what Ollama's format "json" and OpenAI's json_object give). A schema
// object: documents valid against it. Anything else, or a schema using a keyword that would change
// validity and is not supported, is kInvalidArgument with a message naming the keyword and where.
// Object members are compiled in the order the schema was written when it comes as an
// ordered_json (as Ollama does: a model writes "reasoning" before "answer" if the schema says so);
// a plain nlohmann::json (converted implicitly) has already sorted its keys.
Result<std::shared_ptr<const Grammar>> compile_format(const nlohmann::ordered_json& format);

// A JSON schema (object or boolean) compiled to a grammar.
Result<std::shared_ptr<const Grammar>> compile_json_schema(const nlohmann::ordered_json& schema);

}  // namespace paddock::engine
