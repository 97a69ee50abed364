// Oracle for Ollama-style Go templates: renders tests/fixtures/template/go_templates/*.gotmpl with
// Go's own text/template over the conversations in tests/fixtures/template/conversations.json,
// building the data the way Ollama's server does (collated messages, .System, typed tools and tool
// calls whose String() is their JSON, legacy per-turn rendering cut after {{ .Response }}), and
// renders tests/fixtures/template/go_features.json (small templates over plain JSON data).
// Writes go_cases.json and go_features_expected.json next to them.
//
// Run from the repository root:  go run tools/gotemplate/main.go
// (Go 1.19, standard library only; the Go version is recorded in the outputs).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
)

const fixtures = "tests/fixtures/template"

// ---- Ollama-shaped data types (field order and json tags as Ollama's api package) ----

type Args map[string]any

func (a Args) String() string { b, _ := json.Marshal(map[string]any(a)); return string(b) }

type ToolCallFunction struct {
	Index     int    `json:"index"`
	Name      string `json:"name"`
	Arguments Args   `json:"arguments"`
}

func (f ToolCallFunction) String() string { b, _ := json.Marshal(f); return string(b) }

type ToolCall struct {
	ID       string           `json:"id,omitempty"`
	Function ToolCallFunction `json:"function"`
}

func (c ToolCall) String() string { b, _ := json.Marshal(c); return string(b) }

type Message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	Thinking   string     `json:"thinking,omitempty"`
	Images     []string   `json:"images,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolName   string     `json:"tool_name,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

func (m Message) String() string { b, _ := json.Marshal(m); return string(b) }

type ToolProperty struct {
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
	Enum        []any  `json:"enum,omitempty"`
}

func (p ToolProperty) String() string { b, _ := json.Marshal(p); return string(b) }

type ToolParams struct {
	Type       string                  `json:"type"`
	Required   []string                `json:"required,omitempty"`
	Properties map[string]ToolProperty `json:"properties"`
}

func (p ToolParams) String() string { b, _ := json.Marshal(p); return string(b) }

type ToolFunction struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Parameters  ToolParams `json:"parameters"`
}

func (f ToolFunction) String() string { b, _ := json.Marshal(f); return string(b) }

type Tool struct {
	Type     string       `json:"type"`
	Function ToolFunction `json:"function"`
}

func (t Tool) String() string { b, _ := json.Marshal(t); return string(b) }

var funcs = template.FuncMap{
	"json": func(v any) string { b, _ := json.Marshal(v); return string(b) },
}

// ---- conversion from the fixture's OpenAI/HF-style JSON ----

func toMessages(raw []map[string]any) ([]Message, error) {
	var out []Message
	for _, m := range raw {
		var msg Message
		msg.Role, _ = m["role"].(string)
		switch c := m["content"].(type) {
		case nil:
		case string:
			msg.Content = c
		default:
			return nil, fmt.Errorf("message content must be a string")
		}
		msg.Thinking, _ = m["thinking"].(string)
		msg.ToolName, _ = m["tool_name"].(string)
		if msg.ToolName == "" {
			msg.ToolName, _ = m["name"].(string)
		}
		msg.ToolCallID, _ = m["tool_call_id"].(string)
		calls, _ := m["tool_calls"].([]any)
		for i, c := range calls {
			cm, _ := c.(map[string]any)
			fn, _ := cm["function"].(map[string]any)
			tc := ToolCall{}
			tc.ID, _ = cm["id"].(string)
			tc.Function.Index = i
			tc.Function.Name, _ = fn["name"].(string)
			switch a := fn["arguments"].(type) {
			case map[string]any:
				tc.Function.Arguments = Args(a)
			case string:
				var parsed map[string]any
				if err := json.Unmarshal([]byte(a), &parsed); err != nil {
					return nil, err
				}
				tc.Function.Arguments = Args(parsed)
			default:
				tc.Function.Arguments = Args{}
			}
			msg.ToolCalls = append(msg.ToolCalls, tc)
		}
		out = append(out, msg)
	}
	return out, nil
}

func toTools(raw []any) []Tool {
	var out []Tool
	for _, t := range raw {
		tm, _ := t.(map[string]any)
		fn, _ := tm["function"].(map[string]any)
		params, _ := fn["parameters"].(map[string]any)
		tool := Tool{}
		tool.Type, _ = tm["type"].(string)
		tool.Function.Name, _ = fn["name"].(string)
		tool.Function.Description, _ = fn["description"].(string)
		tool.Function.Parameters.Type, _ = params["type"].(string)
		for _, r := range asSlice(params["required"]) {
			if s, ok := r.(string); ok {
				tool.Function.Parameters.Required = append(tool.Function.Parameters.Required, s)
			}
		}
		tool.Function.Parameters.Properties = map[string]ToolProperty{}
		props, _ := params["properties"].(map[string]any)
		for name, p := range props {
			pm, _ := p.(map[string]any)
			prop := ToolProperty{}
			prop.Type, _ = pm["type"].(string)
			prop.Description, _ = pm["description"].(string)
			prop.Enum = asSlice(pm["enum"])
			tool.Function.Parameters.Properties[name] = prop
		}
		out = append(out, tool)
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// ---- Ollama's rendering rules, restated ----

// identifiers lists the lower-cased field and variable names the template mentions.
func identifiers(n parse.Node, out map[string]bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			identifiers(c, out)
		}
	case *parse.ActionNode:
		identifiers(n.Pipe, out)
	case *parse.IfNode:
		identifiers(&n.BranchNode, out)
	case *parse.RangeNode:
		identifiers(&n.BranchNode, out)
	case *parse.WithNode:
		identifiers(&n.BranchNode, out)
	case *parse.BranchNode:
		identifiers(n.Pipe, out)
		identifiers(n.List, out)
		if n.ElseList != nil {
			identifiers(n.ElseList, out)
		}
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			for _, a := range c.Args {
				identifiers(a, out)
			}
		}
	case *parse.FieldNode:
		for _, s := range n.Ident {
			out[strings.ToLower(s)] = true
		}
	case *parse.VariableNode:
		for _, s := range n.Ident {
			out[strings.ToLower(s)] = true
		}
	}
}

// cutAfterResponse drops, in tree-walk order, everything after the first action field that
// mentions Response (conditions of if/range/with are not walked, as in Ollama).
func cutAfterResponse(root *parse.ListNode) {
	cut := false
	var walkList func(l *parse.ListNode) *parse.ListNode
	var walk func(n parse.Node) parse.Node
	walkPipe := func(p *parse.PipeNode) *parse.PipeNode {
		var cmds []*parse.CommandNode
		for _, c := range p.Cmds {
			var args []parse.Node
			for _, a := range c.Args {
				if cut {
					continue
				}
				if f, ok := a.(*parse.FieldNode); ok {
					for _, id := range f.Ident {
						if id == "Response" {
							cut = true
						}
					}
				}
				args = append(args, a)
			}
			if len(args) > 0 {
				c.Args = args
				cmds = append(cmds, c)
			}
		}
		if len(cmds) == 0 {
			return nil
		}
		p.Cmds = cmds
		return p
	}
	walk = func(n parse.Node) parse.Node {
		if cut {
			return nil
		}
		switch t := n.(type) {
		case *parse.ActionNode:
			p := walkPipe(t.Pipe)
			if p == nil {
				return nil
			}
			t.Pipe = p
		case *parse.IfNode:
			t.List = walkList(t.List)
			t.ElseList = walkList(t.ElseList)
		case *parse.RangeNode:
			t.List = walkList(t.List)
			t.ElseList = walkList(t.ElseList)
		case *parse.WithNode:
			t.List = walkList(t.List)
			t.ElseList = walkList(t.ElseList)
		}
		return n
	}
	walkList = func(l *parse.ListNode) *parse.ListNode {
		if l == nil {
			return nil
		}
		var kept []parse.Node
		for _, c := range l.Nodes {
			if r := walk(c); r != nil {
				kept = append(kept, r)
			}
		}
		l.Nodes = kept
		return l
	}
	walkList(root)
}

func parseTemplate(src string) (*template.Template, map[string]bool, error) {
	t, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(src)
	if err != nil {
		return nil, nil, err
	}
	ids := map[string]bool{}
	identifiers(t.Tree.Root, ids)
	if !ids["messages"] && !ids["response"] {
		resp := &parse.ActionNode{NodeType: parse.NodeAction, Pipe: &parse.PipeNode{NodeType: parse.NodePipe,
			Cmds: []*parse.CommandNode{{NodeType: parse.NodeCommand, Args: []parse.Node{
				&parse.FieldNode{NodeType: parse.NodeField, Ident: []string{"Response"}}}}}}}
		t.Tree.Root.Nodes = append(t.Tree.Root.Nodes, resp)
	}
	return t, ids, nil
}

func renderChat(src string, msgs []Message, tools []Tool, think *bool) (string, error) {
	t, ids, err := parseTemplate(src)
	if err != nil {
		return "", err
	}
	var systems []string
	var collated []*Message
	for i := range msgs {
		if msgs[i].Role == "system" {
			systems = append(systems, msgs[i].Content)
		}
		if n := len(collated); n > 0 && collated[n-1].Role == msgs[i].Role && msgs[i].Role != "tool" {
			collated[n-1].Content += "\n\n" + msgs[i].Content
		} else {
			m := msgs[i]
			collated = append(collated, &m)
		}
	}
	thinkVal, thinkSet := false, think != nil
	if think != nil {
		thinkVal = *think
	}
	var b bytes.Buffer
	if ids["messages"] || ids["document"] {
		list := make([]Message, len(collated))
		for i, m := range collated {
			list[i] = *m
		}
		err := t.Execute(&b, map[string]any{"System": strings.Join(systems, "\n\n"), "Messages": list, "Tools": tools,
			"Response": "", "Think": thinkVal, "IsThinkSet": thinkSet, "Query": "", "Document": "", "Instruction": ""})
		return b.String(), err
	}
	var system, prompt, response string
	turn := func(tt *template.Template) error {
		err := tt.Execute(&b, map[string]any{"System": system, "Prompt": prompt, "Response": response,
			"Think": thinkVal, "IsThinkSet": thinkSet})
		system, prompt, response = "", "", ""
		return err
	}
	for _, m := range collated {
		switch m.Role {
		case "system":
			if prompt != "" || response != "" {
				if err := turn(t); err != nil {
					return "", err
				}
			}
			system = m.Content
		case "user":
			if response != "" {
				if err := turn(t); err != nil {
					return "", err
				}
			}
			prompt = m.Content
		case "assistant":
			response = m.Content
		}
	}
	root := t.Tree.Root.CopyList()
	cutAfterResponse(root)
	last, err := template.New("").Option("missingkey=zero").Funcs(funcs).AddParseTree("", &parse.Tree{Root: root})
	if err != nil {
		return "", err
	}
	if err := turn(last); err != nil {
		return "", err
	}
	return b.String(), nil
}

// plainData turns decoded JSON into Go values with integral numbers as int (so eq .N 3 works).
func plainData(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = plainData(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = plainData(e)
		}
		return x
	}
	return v
}

func mustRead(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return b
}

func writeJSON(path string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		panic(err)
	}
}

type chatCase struct {
	Template     string `json:"template"`
	Conversation string `json:"conversation"`
	Think        *bool  `json:"think,omitempty"`
	WithTools    bool   `json:"with_tools"`
	Expected     *string `json:"expected,omitempty"`
	Error        string `json:"error,omitempty"`
}

func main() {
	var input struct {
		Tools         []any                        `json:"tools"`
		Conversations map[string][]map[string]any `json:"conversations"`
	}
	if err := json.Unmarshal(mustRead(filepath.Join(fixtures, "conversations.json")), &input); err != nil {
		panic(err)
	}
	names, _ := filepath.Glob(filepath.Join(fixtures, "go_templates", "*.gotmpl"))
	sort.Strings(names)
	var convNames []string
	for k := range input.Conversations {
		convNames = append(convNames, k)
	}
	sort.Strings(convNames)
	yes, no := true, false
	var cases []chatCase
	for _, path := range names {
		src := string(mustRead(path))
		name := strings.TrimSuffix(filepath.Base(path), ".gotmpl")
		for _, conv := range convNames {
			for _, think := range []*bool{nil, &yes, &no} {
				if think != nil && name != "qwen_think" {
					continue
				}
				c := chatCase{Template: name, Conversation: conv, Think: think, WithTools: strings.HasPrefix(conv, "tools")}
				msgs, err := toMessages(input.Conversations[conv])
				var tools []Tool
				if c.WithTools {
					tools = toTools(input.Tools)
				}
				if err == nil {
					var out string
					out, err = renderChat(src, msgs, tools, think)
					if err == nil {
						c.Expected = &out
					}
				}
				if err != nil {
					c.Error = err.Error()
				}
				cases = append(cases, c)
			}
		}
	}
	oracle := "Go " + runtime.Version() + " text/template"
	writeJSON(filepath.Join(fixtures, "go_cases.json"), map[string]any{"oracle": oracle,
		"generated_by": "tools/gotemplate/main.go", "cases": cases})

	var feats struct {
		Cases []struct {
			Name     string          `json:"name"`
			Template string          `json:"template"`
			Data     json.RawMessage `json:"data"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(mustRead(filepath.Join(fixtures, "go_features.json")), &feats); err != nil {
		panic(err)
	}
	type featOut struct {
		Name     string  `json:"name"`
		Expected *string `json:"expected,omitempty"`
		Error    string  `json:"error,omitempty"`
	}
	var outs []featOut
	for _, f := range feats.Cases {
		o := featOut{Name: f.Name}
		var data any
		if len(f.Data) > 0 {
			dec := json.NewDecoder(bytes.NewReader(f.Data))
			dec.UseNumber()
			if err := dec.Decode(&data); err != nil {
				panic(err)
			}
			data = plainData(data)
		}
		t, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(f.Template)
		if err == nil {
			var b bytes.Buffer
			if err = t.Execute(&b, data); err == nil {
				s := b.String()
				o.Expected = &s
			}
		}
		if err != nil {
			o.Error = err.Error()
		}
		outs = append(outs, o)
	}
	writeJSON(filepath.Join(fixtures, "go_features_expected.json"), map[string]any{"oracle": oracle,
		"generated_by": "tools/gotemplate/main.go", "cases": outs})
	fmt.Printf("wrote %d chat cases and %d feature cases\n", len(cases), len(outs))
}
