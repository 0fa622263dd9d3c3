package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const (
	ownURN   = "urn:pulumi:prod::env-progression::progression:verify:SmokeTest$pulumi-nodejs:dynamic/progression:SmokeRun::prod-smoke-run"
	otherURN = "urn:pulumi:dev::other::pulumi-nodejs:dynamic:Resource::thing"
	// The engine's stand-in for a value not known during a preview.
	unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
)

func props(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeNode stands in for the Node host: it records the calls that reach it.
type fakeNode struct {
	pulumirpc.ResourceProviderClient // calls not overridden here panic: none should reach it

	mu    sync.Mutex
	calls []string
}

func (n *fakeNode) record(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, name)
}

func (n *fakeNode) seen() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.calls...)
}

func (n *fakeNode) Configure(_ context.Context, req *pulumirpc.ConfigureRequest, _ ...grpc.CallOption) (*pulumirpc.ConfigureResponse, error) {
	n.record("Configure " + req.GetArgs().GetFields()["region"].GetStringValue())
	return &pulumirpc.ConfigureResponse{}, nil
}

func (n *fakeNode) Check(_ context.Context, req *pulumirpc.CheckRequest, _ ...grpc.CallOption) (*pulumirpc.CheckResponse, error) {
	n.record("Check")
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (n *fakeNode) Diff(context.Context, *pulumirpc.DiffRequest, ...grpc.CallOption) (*pulumirpc.DiffResponse, error) {
	n.record("Diff")
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME}, nil
}

func (n *fakeNode) Update(context.Context, *pulumirpc.UpdateRequest, ...grpc.CallOption) (*pulumirpc.UpdateResponse, error) {
	n.record("Update")
	return &pulumirpc.UpdateResponse{}, nil
}

func (n *fakeNode) Read(context.Context, *pulumirpc.ReadRequest, ...grpc.CallOption) (*pulumirpc.ReadResponse, error) {
	n.record("Read")
	return &pulumirpc.ReadResponse{}, nil
}

func (n *fakeNode) Delete(context.Context, *pulumirpc.DeleteRequest, ...grpc.CallOption) (*emptypb.Empty, error) {
	n.record("Delete")
	return &emptypb.Empty{}, nil
}

// newTestFront is a front whose host is node, counting how often it was started.
func newTestFront(node *fakeNode, startErr error) (*front, *int) {
	starts := 0
	var mu sync.Mutex
	f := newFront([]string{"127.0.0.1:1"}, func([]string) (*host, error) {
		mu.Lock()
		starts++
		mu.Unlock()
		if startErr != nil {
			return nil, startErr
		}
		return &host{client: node, stop: func() {}}, nil
	})
	return f, &starts
}

func TestUnchangedOnlyForEqualInputsOfOwnResources(t *testing.T) {
	in := map[string]any{"trigger": "abc", "checks": "[]", "timeoutMs": 5000.0, "__provider": "exports.handler = ..."}
	diff := func(urn string, olds, news map[string]any) *pulumirpc.DiffRequest {
		r := &pulumirpc.DiffRequest{Urn: urn, News: props(t, news)}
		if olds != nil {
			r.OldInputs = props(t, olds)
		}
		return r
	}
	changed := map[string]any{"trigger": "abd", "checks": "[]", "timeoutMs": 5000.0, "__provider": "exports.handler = ..."}
	extra := map[string]any{"trigger": "abc", "checks": "[]", "timeoutMs": 5000.0, "__provider": "exports.handler = ...", "runId": "2"}
	preview := map[string]any{"trigger": unknown, "checks": "[]", "timeoutMs": 5000.0, "__provider": "exports.handler = ..."}
	cases := []struct {
		name string
		req  *pulumirpc.DiffRequest
		want bool
	}{
		{"equal inputs", diff(ownURN, in, in), true},
		{"a changed value", diff(ownURN, in, changed), false},
		{"an added input", diff(ownURN, in, extra), false},
		{"an unknown value in a preview", diff(ownURN, in, preview), false},
		{"no old inputs in state", diff(ownURN, nil, in), false},
		{"another program's dynamic resource", diff(otherURN, in, in), false},
		{"not a URN", diff("prod-smoke-run", in, in), false},
	}
	for _, c := range cases {
		if got := Unchanged(c.req); got != c.want {
			t.Errorf("%s: Unchanged = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNoChangeNeedsNoNode(t *testing.T) {
	node := &fakeNode{}
	f, starts := newTestFront(node, nil)
	ctx := context.Background()
	in := props(t, map[string]any{"trigger": "abc"})
	if _, err := f.Configure(ctx, &pulumirpc.ConfigureRequest{Args: props(t, map[string]any{"region": "a"})}); err != nil {
		t.Fatal(err)
	}
	chk, err := f.Check(ctx, &pulumirpc.CheckRequest{Urn: ownURN, Olds: in, News: in})
	if err != nil || chk.GetInputs().GetFields()["trigger"].GetStringValue() != "abc" {
		t.Fatalf("Check: %v, %v; want the new inputs as they came", chk, err)
	}
	d, err := f.Diff(ctx, &pulumirpc.DiffRequest{Urn: ownURN, OldInputs: in, News: in})
	if err != nil || d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("Diff: %v, %v; want DIFF_NONE", d, err)
	}
	if _, err := f.Read(ctx, &pulumirpc.ReadRequest{Urn: ownURN, Id: "x", Properties: in}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Delete(ctx, &pulumirpc.DeleteRequest{Urn: ownURN, Id: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Cancel(ctx, &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	f.stop()
	if *starts != 0 || len(node.seen()) != 0 {
		t.Fatalf("the Node host started %d times and saw %v; want it never started", *starts, node.seen())
	}
}

func TestReadKeepsTheStateAsItIs(t *testing.T) {
	f, _ := newTestFront(&fakeNode{}, nil)
	outs := props(t, map[string]any{"passedAt": "2026-12-07T00:00:00Z"})
	r, err := f.Read(context.Background(), &pulumirpc.ReadRequest{Urn: ownURN, Id: "smoke-1", Properties: outs})
	if err != nil || r.GetId() != "smoke-1" || r.GetProperties().GetFields()["passedAt"].GetStringValue() != "2026-12-07T00:00:00Z" {
		t.Fatalf("Read = %v, %v; want id smoke-1 and the prior outputs", r, err)
	}
	ins := props(t, map[string]any{"trigger": "abc"})
	r, err = f.Read(context.Background(), &pulumirpc.ReadRequest{Urn: ownURN, Id: "smoke-1", Inputs: ins})
	if err != nil || r.GetProperties().GetFields()["trigger"].GetStringValue() != "abc" {
		t.Fatalf("Read without outputs = %v, %v; want the inputs", r, err)
	}
}

func TestAChangeGoesToNodeConfiguredOnce(t *testing.T) {
	node := &fakeNode{}
	f, starts := newTestFront(node, nil)
	ctx := context.Background()
	if _, err := f.Configure(ctx, &pulumirpc.ConfigureRequest{Args: props(t, map[string]any{"region": "a"})}); err != nil {
		t.Fatal(err)
	}
	olds := props(t, map[string]any{"trigger": "abc"})
	news := props(t, map[string]any{"trigger": "abd"})
	d, err := f.Diff(ctx, &pulumirpc.DiffRequest{Urn: ownURN, OldInputs: olds, News: news})
	if err != nil || d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME {
		t.Fatalf("Diff: %v, %v; want the host's answer", d, err)
	}
	if _, err := f.Update(ctx, &pulumirpc.UpdateRequest{Urn: ownURN, Olds: olds, News: news}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Check(ctx, &pulumirpc.CheckRequest{Urn: otherURN, News: news}); err != nil {
		t.Fatal(err)
	}
	want := []string{"Configure a", "Diff", "Update", "Check"}
	if got := node.seen(); strings.Join(got, ",") != strings.Join(want, ",") || *starts != 1 {
		t.Fatalf("the host saw %v after %d starts; want %v after 1", got, *starts, want)
	}
}

func TestACreateStartsNodeAhead(t *testing.T) {
	node := &fakeNode{}
	f, starts := newTestFront(node, nil)
	news := props(t, map[string]any{"trigger": "abc"})
	if _, err := f.Check(context.Background(), &pulumirpc.CheckRequest{Urn: ownURN, News: news}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.ready:
	case <-time.After(5 * time.Second):
		t.Fatal("the host was not started for the create that follows the Check")
	}
	if *starts != 1 || len(node.seen()) != 0 {
		t.Fatalf("starts %d, host calls %v; want 1 start and no calls yet", *starts, node.seen())
	}
}

func TestAHostThatCannotStartFailsTheCallSayingWhy(t *testing.T) {
	f, _ := newTestFront(&fakeNode{}, errors.New("no node_modules/@pulumi/pulumi in /x or above it; run npm ci in the project"))
	_, err := f.Diff(context.Background(), &pulumirpc.DiffRequest{Urn: ownURN, News: props(t, map[string]any{"a": "b"})})
	if err == nil || !strings.Contains(err.Error(), "run npm ci") {
		t.Fatalf("Diff error = %v; want the start's error with its fix", err)
	}
}

func TestHostScriptIsTheNearestSDK(t *testing.T) {
	root := t.TempDir()
	nested := filepath.Join(root, "app", "deep")
	host := filepath.Join(root, "node_modules", "@pulumi", "pulumi", "cmd", "dynamic-provider", "index.js")
	for _, d := range []string{nested, filepath.Dir(host)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(host, []byte("// host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := hostScript(nested); err != nil || got != host {
		t.Fatalf("hostScript = %q, %v; want %q", got, err, host)
	}
	if _, err := hostScript(t.TempDir()); err == nil || !strings.Contains(err.Error(), "run npm ci") {
		t.Fatalf("hostScript with no SDK: %v; want an error naming the fix", err)
	}
}

func TestReadPortNeedsAPortFirst(t *testing.T) {
	if p, err := readPort(strings.NewReader("40123\nlater output\n")); err != nil || p != 40123 {
		t.Fatalf("readPort = %d, %v; want 40123", p, err)
	}
	for _, bad := range []string{"", "listening\n", "70000\n"} {
		if _, err := readPort(strings.NewReader(bad)); err == nil {
			t.Errorf("readPort(%q): no error", bad)
		}
	}
}
