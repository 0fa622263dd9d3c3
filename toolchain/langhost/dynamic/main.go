// pulumi-resource-pulumi-nodejs: the plugin the engine starts for the program's dynamic resources.
//
// The work of a dynamic resource (create, update, the diff's own rules) runs in Node: the dynamic
// provider host of the program's own @pulumi/pulumi (cmd/dynamic-provider), which loads the whole
// SDK, about half a second of CPU per `up`. Most `up`s need none of it: a resource whose inputs are
// exactly those of its last successful create or update has nothing to do. So this plugin is a
// front that answers the engine itself where the answer needs no JavaScript, and starts the Node
// host (once, on first need) for everything else, forwarding the call unchanged:
//
//   - Check of the project's own dynamic resources (type pulumi-nodejs:dynamic/progression:*):
//     their provider texts define no `check`, for which the Node host returns the new inputs
//     as they came. So does this front.
//   - Diff of those resources when the new inputs equal the old inputs exactly: no changes.
//     Every diff of the project's providers reports no change in that case (each is a pure
//     function of the old outputs and the new inputs, and a failed create or update keeps the
//     old inputs in state); components/serializedProvider.ts states the rule, and the provider
//     tests check it for each diff. A run on every `up` is an input that changes every `up`.
//   - Read and Delete of those resources: their providers define neither, for which the Node host
//     returns the state as it is, and does nothing.
//   - Configure is answered as the Node host answers it and kept, to be replayed to the host
//     when it starts. GetPluginInfo reports the SDK's version, as the host would.
//
// Every other resource type and call goes to the Node host, so a dynamic resource of any other
// program behaves exactly as with the SDK's own plugin. A Check of a resource about to be created
// starts the host in the background, since its create follows.
//
// The host is found as Node's resolver would find the program's @pulumi/pulumi: the nearest
// node_modules/@pulumi/pulumi at or above the working directory (the engine starts plugins in the
// program's directory). Node starts once; the host dies with this process (PR_SET_PDEATHSIG).
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// OwnTypePrefix names the dynamic resources whose Check and unchanged Diff this front answers.
const OwnTypePrefix = "pulumi-nodejs:dynamic/progression:"

// version is the SDK's version, set at build time (the Node host reports its package's version).
var version = "0.0.0-dev"

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println(version)
		return
	}
	f := newFront(os.Args[1:], startNode)
	// SIGINT or SIGTERM stops the server, and with it the host.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cancel := make(chan bool)
	go func() { <-ctx.Done(); close(cancel) }()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, f)
			return nil
		},
	})
	if err != nil {
		fail("could not start the provider server: %v", err)
	}
	fmt.Printf("%d\n", handle.Port) // the engine reads the port from the first line
	err = <-handle.Done
	f.stop()
	if err != nil {
		fail("provider server stopped: %v", err)
	}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-resource-pulumi-nodejs: "+format+"\n", a...)
	os.Exit(1)
}

// host is a started Node host: its client, and how to stop it.
type host struct {
	client pulumirpc.ResourceProviderClient
	stop   func()
}

// starter starts the Node host with the engine's arguments.
type starter func(args []string) (*host, error)

type front struct {
	pulumirpc.UnimplementedResourceProviderServer

	args  []string
	start starter

	mu        sync.Mutex
	configure *pulumirpc.ConfigureRequest
	started   bool
	ready     chan struct{} // closed once the host is up, or failed to come up
	host      *host
	hostErr   error
}

func newFront(args []string, start starter) *front {
	return &front{args: args, start: start, ready: make(chan struct{})}
}

// launch starts the host once, in the background; the Configure kept so far is replayed to it.
func (f *front) launch() {
	f.mu.Lock()
	if f.started {
		f.mu.Unlock()
		return
	}
	f.started = true
	f.mu.Unlock()
	go func() {
		h, err := f.start(f.args)
		// Replays the newest Configure until none came meanwhile; one that comes after the host is
		// published goes to it directly.
		var replayed *pulumirpc.ConfigureRequest
		for err == nil {
			f.mu.Lock()
			req := f.configure
			if req == replayed {
				f.host = h
				f.mu.Unlock()
				break
			}
			f.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err = h.client.Configure(ctx, req)
			cancel()
			if err != nil {
				h.stop()
				err = fmt.Errorf("configuring the Node dynamic provider host: %w", err)
			}
			replayed = req
		}
		f.mu.Lock()
		f.hostErr = err
		f.mu.Unlock()
		close(f.ready)
	}()
}

// node returns the host's client, starting the host if it is not started yet.
func (f *front) node(ctx context.Context) (pulumirpc.ResourceProviderClient, error) {
	f.launch()
	select {
	case <-f.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hostErr != nil {
		return nil, f.hostErr
	}
	return f.host.client, nil
}

func (f *front) stop() {
	f.mu.Lock()
	started := f.started
	f.mu.Unlock()
	if !started {
		return
	}
	select {
	case <-f.ready:
		f.mu.Lock()
		h := f.host
		f.mu.Unlock()
		if h != nil {
			h.stop()
		}
	case <-time.After(5 * time.Second):
	}
}

// own reports whether urn names one of the project's own dynamic resources.
func own(urn string) bool {
	u, err := resource.ParseURN(urn)
	return err == nil && strings.HasPrefix(string(u.Type()), OwnTypePrefix)
}

// Unchanged reports whether a Diff of one of the project's own resources has nothing to do: the
// new inputs equal the old ones, value for value. Unknown values (a preview) are a sentinel string
// that never equals a known value, so they never count as unchanged.
func Unchanged(req *pulumirpc.DiffRequest) bool {
	return own(req.GetUrn()) && req.GetOldInputs() != nil && req.GetNews() != nil && proto.Equal(req.GetOldInputs(), req.GetNews())
}

func (f *front) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// Configure answers as the Node host does (it takes no secrets) and keeps the request for it.
func (f *front) Configure(ctx context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	f.mu.Lock()
	f.configure = req
	h := f.host
	f.mu.Unlock()
	if h != nil {
		return h.client.Configure(ctx, req)
	}
	return &pulumirpc.ConfigureResponse{AcceptSecrets: false}, nil
}

func (f *front) Check(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if own(req.GetUrn()) {
		if len(req.GetOlds().GetFields()) == 0 {
			f.launch() // a create follows
		}
		news := req.GetNews()
		if news == nil {
			news = &structpb.Struct{}
		}
		return &pulumirpc.CheckResponse{Inputs: news}, nil
	}
	return forward(f, ctx, req, pulumirpc.ResourceProviderClient.Check)
}

// forward sends a request to the Node host, started on first need, and returns its answer.
func forward[Req, Resp any](f *front, ctx context.Context, req Req, call func(pulumirpc.ResourceProviderClient, context.Context, Req, ...grpc.CallOption) (Resp, error)) (Resp, error) {
	c, err := f.node(ctx)
	if err != nil {
		var none Resp
		return none, err
	}
	return call(c, ctx, req)
}

func (f *front) Diff(ctx context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if Unchanged(req) {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return forward(f, ctx, req, pulumirpc.ResourceProviderClient.Diff)
}

func (f *front) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	return forward(f, ctx, req, pulumirpc.ResourceProviderClient.Create)
}

// Read of the project's own resources: their providers define no `read`, for which the Node host
// returns the state as it is (the prior outputs, or the inputs when there are none).
func (f *front) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if own(req.GetUrn()) {
		props := req.GetProperties()
		if len(props.GetFields()) == 0 && req.GetInputs() != nil {
			props = req.GetInputs()
		}
		if props == nil {
			props = &structpb.Struct{}
		}
		return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: props}, nil
	}
	return forward(f, ctx, req, pulumirpc.ResourceProviderClient.Read)
}

func (f *front) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	return forward(f, ctx, req, pulumirpc.ResourceProviderClient.Update)
}

// Delete of the project's own resources: their providers define no `delete`, for which the Node
// host does nothing.
func (f *front) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if own(req.GetUrn()) {
		return &emptypb.Empty{}, nil
	}
	return forward(f, ctx, req, pulumirpc.ResourceProviderClient.Delete)
}

func (f *front) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	return forward(f, ctx, req, pulumirpc.ResourceProviderClient.Invoke)
}

// Cancel reaches the host only when it runs; with no host there is nothing to cancel.
func (f *front) Cancel(ctx context.Context, e *emptypb.Empty) (*emptypb.Empty, error) {
	f.mu.Lock()
	h := f.host
	f.mu.Unlock()
	if h == nil {
		return &emptypb.Empty{}, nil
	}
	return h.client.Cancel(ctx, e)
}

// hostScript is the Node dynamic provider host of the nearest node_modules/@pulumi/pulumi at or
// above dir.
func hostScript(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "node_modules", "@pulumi", "pulumi", "cmd", "dynamic-provider", "index.js")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no node_modules/@pulumi/pulumi in %s or above it; run npm ci in the project", dir)
		}
	}
}

// startNode runs `node <host> <args>`, reads the port from its first line of output, and connects.
// The rest of its output goes where this process's goes (the engine shows it).
func startNode(args []string) (*host, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	script, err := hostScript(wd)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", append([]string{script}, args...)...)
	cmd.Stderr = os.Stderr
	// The host must not outlive this process, however it ends (the engine may kill it).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the Node dynamic provider host (node %s): %w", script, err)
	}
	kill := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	port, err := readPort(out)
	if err != nil {
		kill()
		return nil, fmt.Errorf("the Node dynamic provider host (node %s) did not say its port: %w", script, err)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port),
		grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
	if err != nil {
		kill()
		return nil, err
	}
	return &host{client: pulumirpc.NewResourceProviderClient(conn), stop: func() { _ = conn.Close(); kill() }}, nil
}

// readPort reads the first line of r as a port; what follows is copied to stdout.
func readPort(r io.Reader) (int, error) {
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	if err != nil && line == "" {
		return 0, errors.New("its output ended first")
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || port <= 0 || port > 65535 {
		return 0, fmt.Errorf("its first line was %q, not a port", strings.TrimSpace(line))
	}
	go func() { _, _ = io.Copy(os.Stdout, br) }()
	return port, nil
}
