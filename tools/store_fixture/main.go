// store_fixture writes tests/fixtures/store/ollama_models: a model store laid out exactly as
// Ollama writes one (manifests/<host>/<ns>/<model>/<tag>, blobs/sha256-<hex>), using Go's own
// encoding/json Encoder for the manifest and config JSON (the encoder Ollama uses, so key
// order, HTML escaping and the trailing newline are the real thing), plus expected.json with the
// values list/show must report, computed here independently of Paddock.
//
// Oracle: Go's encoding/json + crypto/sha256 (Debian golang-go). Run from the repo root:
//   go run ./tools/store_fixture tests/fixtures/store
// Output is deterministic; re-running must leave `git status` clean.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
)

// Field names and order as in Ollama's manifest package and types/model ConfigV2 (+ the
// image-spec fields the server adds).
type Layer struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	From      string `json:"from,omitempty"`
	Name      string `json:"name,omitempty"`
}

type Manifest struct {
	SchemaVersion int     `json:"schemaVersion"`
	MediaType     string  `json:"mediaType"`
	Config        Layer   `json:"config"`
	Layers        []Layer `json:"layers"`
}

type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type ConfigV2 struct {
	ModelFormat   string   `json:"model_format"`
	ModelFamily   string   `json:"model_family"`
	ModelFamilies []string `json:"model_families"`
	ModelType     string   `json:"model_type"`
	FileType      string   `json:"file_type"`
	Renderer      string   `json:"renderer,omitempty"`
	Parser        string   `json:"parser,omitempty"`
	Requires      string   `json:"requires,omitempty"`
	Capabilities  []string `json:"capabilities,omitempty"`
	ContextLen    int      `json:"context_length,omitempty"`
	EmbedLen      int      `json:"embedding_length,omitempty"`
	BaseName      string   `json:"base_name,omitempty"`
	Architecture  string   `json:"architecture"`
	OS            string   `json:"os"`
	RootFS        RootFS   `json:"rootfs"`
}

var root string

func check(err error) {
	if err != nil {
		panic(err)
	}
}

func encode(v any) []byte {
	var b bytes.Buffer
	check(json.NewEncoder(&b).Encode(v)) // trailing newline, HTML escaping: as Ollama writes
	return b.Bytes()
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func writeBlob(b []byte) Layer {
	d := digestOf(b)
	p := filepath.Join(root, "ollama_models", "blobs", "sha256-"+d[7:])
	check(os.MkdirAll(filepath.Dir(p), 0o755))
	check(os.WriteFile(p, b, 0o644))
	return Layer{Digest: d, Size: int64(len(b))}
}

func writeFile(rel string, b []byte) {
	p := filepath.Join(root, "ollama_models", rel)
	check(os.MkdirAll(filepath.Dir(p), 0o755))
	check(os.WriteFile(p, b, 0o644))
}

// ---- a tiny GGUF v3 file, written field by field from the spec (ggml docs/gguf.md) ----------

type kv struct {
	key string
	typ uint32
	val any
}

func ggufString(b *bytes.Buffer, s string) {
	binary.Write(b, binary.LittleEndian, uint64(len(s)))
	b.WriteString(s)
}

func ggufValue(b *bytes.Buffer, typ uint32, v any) {
	switch typ {
	case 4:
		binary.Write(b, binary.LittleEndian, v.(uint32))
	case 6:
		binary.Write(b, binary.LittleEndian, math.Float32bits(v.(float32)))
	case 7:
		if v.(bool) {
			b.WriteByte(1)
		} else {
			b.WriteByte(0)
		}
	case 8:
		ggufString(b, v.(string))
	case 9:
		arr := v.([]string)
		binary.Write(b, binary.LittleEndian, uint32(8))
		binary.Write(b, binary.LittleEndian, uint64(len(arr)))
		for _, s := range arr {
			ggufString(b, s)
		}
	default:
		panic("type")
	}
}

type tensor struct {
	name string
	ne   []uint64
}

func tinyGGUF(tokens []string) []byte {
	kvs := []kv{
		{"general.architecture", 8, "llama"},
		{"general.name", 8, "Tiny <Fixture> & Co"},
		{"general.file_type", 4, uint32(15)}, // MOSTLY_Q4_K_M
		{"llama.context_length", 4, uint32(2048)},
		{"llama.embedding_length", 4, uint32(8)},
		{"llama.block_count", 4, uint32(1)},
		{"llama.attention.head_count", 4, uint32(2)},
		{"llama.attention.layer_norm_rms_epsilon", 6, float32(1e-5)},
		{"llama.rope.freq_base", 6, float32(10000)},
		{"tokenizer.ggml.model", 8, "gpt2"},
		{"tokenizer.ggml.tokens", 9, tokens},
		{"tokenizer.ggml.add_bos_token", 7, true},
		{"tokenizer.chat_template", 8, "{% for m in messages %}{{ m.content }}{% endfor %}"},
	}
	tensors := []tensor{{"token_embd.weight", []uint64{8, uint64(len(tokens))}}, {"output_norm.weight", []uint64{8}}}
	var b bytes.Buffer
	b.WriteString("GGUF")
	binary.Write(&b, binary.LittleEndian, uint32(3))
	binary.Write(&b, binary.LittleEndian, uint64(len(tensors)))
	binary.Write(&b, binary.LittleEndian, uint64(len(kvs)))
	for _, e := range kvs {
		ggufString(&b, e.key)
		binary.Write(&b, binary.LittleEndian, e.typ)
		ggufValue(&b, e.typ, e.val)
	}
	var offset uint64
	sizes := []uint64{}
	for _, t := range tensors {
		ggufString(&b, t.name)
		binary.Write(&b, binary.LittleEndian, uint32(len(t.ne)))
		n := uint64(1)
		for _, d := range t.ne {
			binary.Write(&b, binary.LittleEndian, d)
			n *= d
		}
		binary.Write(&b, binary.LittleEndian, uint32(0)) // F32
		binary.Write(&b, binary.LittleEndian, offset)
		size := n * 4
		sizes = append(sizes, size)
		offset += (size + 31) / 32 * 32
	}
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	for i, s := range sizes {
		for j := uint64(0); j < s/4; j++ {
			binary.Write(&b, binary.LittleEndian, math.Float32bits(float32(i)+float32(j)/64))
		}
		for j := s; j%32 != 0; j++ {
			b.WriteByte(0)
		}
	}
	return b.Bytes()
}

// ---- the store -------------------------------------------------------------------------------

type model struct {
	path     string // manifests/<host>/<ns>/<model>/<tag>
	display  string
	manifest Manifest
	config   ConfigV2
	bytes    []byte
}

func makeModel(path, display string, cfg ConfigV2, layers []Layer) model {
	ids := []string{}
	for _, l := range layers {
		ids = append(ids, l.Digest)
	}
	cfg.RootFS = RootFS{Type: "layers", DiffIDs: ids}
	cl := writeBlob(encode(cfg))
	cl.MediaType = "application/vnd.docker.container.image.v1+json"
	m := Manifest{SchemaVersion: 2, MediaType: "application/vnd.docker.distribution.manifest.v2+json", Config: cl, Layers: layers}
	b := encode(m)
	writeFile(path, b)
	return model{path, display, m, cfg, b}
}

func typed(l Layer, mt string) Layer { l.MediaType = mt; return l }

func main() {
	root = os.Args[1]
	check(os.RemoveAll(filepath.Join(root, "ollama_models")))
	tokens := make([]string, 100)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("tok%d", i)
	}
	gguf := tinyGGUF(tokens)
	weights := typed(writeBlob(gguf), "application/vnd.ollama.image.model")
	tmpl := "{{ if .System }}<|system|>{{ .System }}<|end|>{{ end }}{{ if .Tools }}tools: {{ .Tools }}{{ end }}<|user|>{{ .Prompt }}<|end|><|assistant|>{{ .Response }}"
	tmplLayer := typed(writeBlob([]byte(tmpl)), "application/vnd.ollama.image.template")
	system := "You are a \"tiny\" test model.\nBe brief."
	sysLayer := typed(writeBlob([]byte(system)), "application/vnd.ollama.image.system")
	params := map[string]any{"stop": []string{"<|end|>", "<|user|>"}, "temperature": 0.6, "num_ctx": 4096}
	paramsLayer := typed(writeBlob(encode(params)), "application/vnd.ollama.image.params")
	lic1 := "MIT License\n\nCopyright (c) fixture"
	lic2 := "Second license text"
	lic1Layer := typed(writeBlob([]byte(lic1)), "application/vnd.ollama.image.license")
	lic2Layer := typed(writeBlob([]byte(lic2)), "application/vnd.ollama.image.license")
	msgs := []map[string]string{{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello <there>"}}
	msgLayer := typed(writeBlob(encode(msgs)), "application/vnd.ollama.image.messages")

	cfg := ConfigV2{ModelFormat: "gguf", ModelFamily: "llama", ModelFamilies: []string{"llama"}, ModelType: "808",
		FileType: "Q4_K_M", ContextLen: 2048, EmbedLen: 8, Architecture: runtime.GOARCH, OS: "linux"}
	models := []model{
		makeModel("manifests/registry.ollama.ai/library/tiny/latest", "tiny:latest", cfg,
			[]Layer{weights, tmplLayer, sysLayer, paramsLayer, msgLayer, lic1Layer, lic2Layer}),
		// Shares the weights blob with tiny:latest; no template; nil families (Go writes null).
		makeModel("manifests/registry.ollama.ai/library/tiny/bare", "tiny:bare",
			ConfigV2{ModelFormat: "gguf", ModelFamily: "llama", ModelType: "808", FileType: "Q4_K_M", Architecture: runtime.GOARCH, OS: "linux"},
			[]Layer{weights}),
		makeModel("manifests/registry.ollama.ai/someone/Other.Model/v1.0", "someone/Other.Model:v1.0", cfg,
			[]Layer{weights, typed(writeBlob([]byte("{{ .Prompt }}")), "application/vnd.ollama.image.template")}),
		makeModel("manifests/example.com:5000/team/m/t", "example.com:5000/team/m:t", cfg, []Layer{weights}),
	}
	// Entries Ollama's loader skips: invalid part names, broken JSON, a directory at tag level.
	writeFile("manifests/registry.ollama.ai/library/bad..name/latest", models[1].bytes)
	writeFile("manifests/registry.ollama.ai/library/broken/latest", []byte("{\"schemaVersion\":2,"))
	writeFile("manifests/registry.ollama.ai/library/deep/tag/extra", models[1].bytes)
	writeFile("manifests/registry.ollama.ai/library/badtag/-x", models[1].bytes)

	type exp struct {
		Path          string   `json:"path"`
		Name          string   `json:"name"`
		Size          int64    `json:"size"`
		Digest        string   `json:"digest"`
		Family        string   `json:"family"`
		Families      []string `json:"families"`
		ParameterSize string   `json:"parameter_size"`
		Quantization  string   `json:"quantization_level"`
		ContextLength int      `json:"context_length"`
		EmbedLength   int      `json:"embedding_length"`
		LayerCount    int      `json:"layer_count"`
	}
	out := map[string]any{}
	list := []exp{}
	for _, m := range models {
		size := m.manifest.Config.Size
		for _, l := range m.manifest.Layers {
			size += l.Size
		}
		s := sha256.Sum256(m.bytes)
		list = append(list, exp{m.path, m.display, size, hex.EncodeToString(s[:]), m.config.ModelFamily,
			m.config.ModelFamilies, m.config.ModelType, m.config.FileType, m.config.ContextLen, m.config.EmbedLen,
			len(m.manifest.Layers)})
	}
	out["models"] = list
	out["show_tiny"] = map[string]any{
		"template": tmpl, "system": system, "licenses": []string{lic1, lic2}, "params": params, "messages": msgs,
		"weights_digest": weights.Digest, "weights_sha256_of_file": digestOf(gguf),
		"n_tokens": len(tokens), "general.name": "Tiny <Fixture> & Co",
	}
	out["generator"] = "tools/store_fixture (Go " + runtime.Version() + " encoding/json)"
	b, err := json.MarshalIndent(out, "", "  ")
	check(err)
	check(os.WriteFile(filepath.Join(root, "expected.json"), append(b, '\n'), 0o644))
}
