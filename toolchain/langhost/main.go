// Command pulumi-language-nodejs is a small Node.js language host for the Pulumi engine, written for
// this project: the upstream host of the CLI release is its own untagged Go module, and the Go module
// proxy these machines reach serves none of its pseudo-versions (see docs/local-cluster.md).
//
// It serves the parts of the LanguageRuntime protocol the engine uses for JavaScript/TypeScript
// programs and policy packs; the work itself is done by the Node SDK's own entry points in
// node_modules/@pulumi/pulumi (cmd/run, cmd/run-policy-pack, cmd/run-plugin):
//
//   - GetRequiredPackages / GetRequiredPlugins: every package of the program's npm dependency graph
//     whose package.json says "pulumi": {"resource": true} names a resource plugin (name and version
//     as the npm package says).
//   - Run: node <@pulumi/pulumi/cmd/run> --monitor ... --engine ... <entry point>, config in env.
//   - RunPlugin: policy packs (through the SDK's PolicyProxy, which hands the stack configuration over)
//     and Node plugins.
//   - Handshake, GetPluginInfo, InstallDependencies (npm install), GetProgramDependencies, About,
//     RuntimeOptionsPrompts, Cancel. Code generation, templates, pack/link are not served.
//
// toolchain/toolchain.sh builds it against github.com/pulumi/pulumi/sdk/v3 at the CLI's version.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Exit code with which the Node SDK says it has already shown the user an actionable message.
const exitAfterUserMessage = 32

func main() {
	var engineAddress, tracing string
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-version" || a == "--version":
			fmt.Println(version.Version)
			return
		case a == "-tracing" || a == "--tracing":
			if i+1 < len(args) {
				i++
				tracing = args[i]
			}
		case strings.HasPrefix(a, "-tracing=") || strings.HasPrefix(a, "--tracing="):
			tracing = a[strings.Index(a, "=")+1:]
		case strings.HasPrefix(a, "-"):
			// Options of other hosts (-runtime, -root, ...): nothing to do with them here.
		default:
			if engineAddress == "" {
				engineAddress = a
			}
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cancel := make(chan bool)
	go func() { <-ctx.Done(); close(cancel) }()

	host := newHost(engineAddress, tracing)
	if engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, stop); err != nil {
			fail("could not start the engine health check: %v", err)
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fail("could not start the language host server: %v", err)
	}
	fmt.Printf("%d\n", handle.Port) // the engine reads the port from the first line
	if err := <-handle.Done; err != nil {
		fail("language host server stopped: %v", err)
	}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: "+format+"\n", a...)
	os.Exit(1)
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	tracing       string
	cancelCtx     context.Context
	cancelAll     context.CancelFunc
}

func newHost(engineAddress, tracing string) *host {
	ctx, cancel := context.WithCancel(context.Background())
	return &host{engineAddress: engineAddress, tracing: tracing, cancelCtx: ctx, cancelAll: cancel}
}

func (h *host) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	first := h.engineAddress == ""
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	if first && req.GetEngineAddress() != "" {
		hctx, stop := context.WithCancel(context.Background())
		if err := rpcutil.Healthcheck(hctx, req.GetEngineAddress(), 5*time.Minute, func() {
			stop()
			os.Exit(0) // the engine went away: so do we
		}); err != nil {
			stop()
			return nil, fmt.Errorf("could not start the engine health check: %w", err)
		}
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelAll()
	return &emptypb.Empty{}, nil
}

func (h *host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

// ---- options -------------------------------------------------------------------------------------

// options are the `runtime.options` of Pulumi.yaml / PulumiPolicy.yaml that matter here.
type options struct {
	typescript bool   // run TypeScript through the SDK's ts-node (default true)
	tsconfig   string // path to a tsconfig.json
	nodeargs   []string
}

func parseOptions(info *pulumirpc.ProgramInfo) (options, error) {
	o := options{typescript: true}
	m := info.GetOptions().AsMap()
	if v, ok := m["typescript"]; ok {
		b, ok := v.(bool)
		if !ok {
			return o, errors.New("runtime option typescript must be a boolean")
		}
		o.typescript = b
	}
	if v, ok := m["tsconfig"]; ok {
		s, ok := v.(string)
		if !ok {
			return o, errors.New("runtime option tsconfig must be a string")
		}
		o.tsconfig = s
	}
	if v, ok := m["nodeargs"]; ok {
		s, ok := v.(string)
		if !ok {
			return o, errors.New("runtime option nodeargs must be a string")
		}
		o.nodeargs = strings.Fields(s)
	}
	return o, nil
}

func (o options) env() []string {
	var env []string
	if o.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if o.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfig)
	}
	return env
}

// resolveModule finds a module of the program's node_modules as Node's require.resolve would for
// the SDK's entry points (packages without an "exports" map): the package from dir upward, then the
// file, the file with ".js", or the folder's index.js. Resolving here, not by asking node, saves a
// Node start before every program run. A path (absolute or starting with ".") is taken as given.
func resolveModule(dir, module string) (string, error) {
	if filepath.IsAbs(module) {
		return module, nil
	}
	if strings.HasPrefix(module, ".") {
		return filepath.Join(dir, module), nil
	}
	parts := strings.Split(module, "/")
	n := 1
	if strings.HasPrefix(module, "@") {
		n = 2
	}
	if len(parts) < n {
		return "", fmt.Errorf("%q is not a module name", module)
	}
	pkg, sub := strings.Join(parts[:n], "/"), filepath.FromSlash(strings.Join(parts[n:], "/"))
	pkgDir, ok := resolvePackage(dir, pkg)
	if !ok {
		return "", fmt.Errorf("cannot find %s from %s: run npm install there", module, dir)
	}
	base := filepath.Join(pkgDir, sub)
	for _, candidate := range []string{base, base + ".js", filepath.Join(base, "index.js")} {
		if fi, err := os.Stat(candidate); err == nil && !fi.IsDir() {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("cannot find %s in %s: reinstall it (npm ci)", module, pkgDir)
}

// ---- required plugins -----------------------------------------------------------------------------

type packageJSON struct {
	Name                 string                  `json:"name"`
	Version              string                  `json:"version"`
	Pulumi               plugin.PulumiPluginJSON `json:"pulumi"`
	Dependencies         map[string]string       `json:"dependencies"`
	OptionalDependencies map[string]string       `json:"optionalDependencies"`
	DevDependencies      map[string]string       `json:"devDependencies"`
}

type foundPackage struct {
	name, version, server string
	param, extension      *pulumirpc.PackageParameterization
}

// findPackages collects the resource plugins of the program's npm dependency graph: from the
// package.json nearest the program directory, its dependencies, optionalDependencies and
// devDependencies, and transitively the dependencies and optionalDependencies of each package
// reached. A package is found as Node's resolver finds it: in node_modules/<name> of the requiring
// package's folder or of a folder above it. A package.json with "pulumi": {"resource": true} names a
// plugin. Only the graph is read (a few hundred small files), never every folder under the
// program: another project's node_modules beside it (a nested policy pack, a second Pulumi
// project) is not this program's.
func findPackages(dir string) ([]foundPackage, error) {
	root, err := nearestPackageJSON(dir)
	if err != nil {
		return nil, err
	}
	var rootPJ packageJSON
	if err := readJSON(filepath.Join(root, "package.json"), &rootPJ); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var found []foundPackage
	var errs []error
	var visit func(from string, deps ...map[string]string)
	visit = func(from string, deps ...map[string]string) {
		for _, m := range deps {
			names := make([]string, 0, len(m))
			for name := range m {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				pkgDir, ok := resolvePackage(from, name)
				if !ok {
					continue // an optional dependency not installed on this platform, or not installed yet
				}
				real, err := filepath.EvalSymlinks(pkgDir)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if seen[real] {
					continue
				}
				seen[real] = true
				var pj packageJSON
				if err := readJSON(filepath.Join(pkgDir, "package.json"), &pj); err != nil {
					errs = append(errs, err)
					continue
				}
				if pj.Pulumi.Resource {
					if fp, err := describe(pj); err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(pkgDir, "package.json"), err))
					} else {
						found = append(found, fp)
					}
				}
				visit(pkgDir, pj.Dependencies, pj.OptionalDependencies)
			}
		}
	}
	visit(root, rootPJ.Dependencies, rootPJ.OptionalDependencies, rootPJ.DevDependencies)
	return found, errors.Join(errs...)
}

// nearestPackageJSON returns dir or the closest folder above it holding a package.json.
func nearestPackageJSON(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "package.json")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no package.json in %s or any folder above it", dir)
		}
	}
}

// resolvePackage finds node_modules/<name> from the folder `from` upward, as Node's resolver does.
func resolvePackage(from, name string) (string, bool) {
	for d := from; ; d = filepath.Dir(d) {
		if filepath.Base(d) != "node_modules" {
			p := filepath.Join(d, "node_modules", filepath.FromSlash(name))
			if _, err := os.Stat(filepath.Join(p, "package.json")); err == nil {
				return p, true
			}
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func describe(pj packageJSON) (foundPackage, error) {
	name := pj.Pulumi.Name
	if name == "" {
		if !strings.HasPrefix(pj.Name, "@pulumi/") {
			return foundPackage{}, errors.New(`a third-party plugin package needs "pulumi": {"name": ...}`)
		}
		name = strings.TrimPrefix(pj.Name, "@pulumi/")
	}
	v := pj.Pulumi.Version
	if v == "" {
		v = pj.Version
	}
	if v == "" {
		return foundPackage{}, errors.New("no version")
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	conv := func(p *plugin.PulumiParameterizationJSON) *pulumirpc.PackageParameterization {
		if p == nil {
			return nil
		}
		return &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
	}
	return foundPackage{name: name, version: v, server: pj.Pulumi.Server,
		param: conv(pj.Pulumi.Parameterization), extension: conv(pj.Pulumi.ExtensionParameterization)}, nil
}

func (h *host) GetRequiredPackages(_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	found, err := findPackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: while looking for plugins: %v\n", err)
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, f := range found {
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Name: f.name, Kind: "resource", Version: f.version, Server: f.server,
			Parameterization: f.param, Extension: f.extension,
		})
	}
	return resp, nil
}

func (h *host) GetRequiredPlugins(_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	found, err := findPackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: while looking for plugins: %v\n", err)
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, f := range found {
		if f.param != nil {
			continue // parameterized packages are only expressible through GetRequiredPackages
		}
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Name: f.name, Kind: "resource", Version: f.version, Server: f.server,
		})
	}
	return resp, nil
}

// ---- Run ------------------------------------------------------------------------------------------

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	dir := info.GetProgramDirectory()
	if dir == "" {
		dir = req.GetPwd() //nolint:staticcheck // older engines
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on $PATH: " + err.Error()}, nil
	}
	opts, err := parseOptions(info)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	runModule := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if runModule == "" {
		runModule = "@pulumi/pulumi/cmd/run"
	}
	runPath, err := resolveModule(dir, runModule)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	args := append([]string{}, opts.nodeargs...)
	args = append(args, runPath)
	flag := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	flag("monitor", req.GetMonitorAddress())
	flag("engine", h.engine())
	flag("organization", req.GetOrganization())
	flag("project", req.GetProject())
	flag("root-directory", info.GetRootDirectory())
	flag("stack", req.GetStack())
	flag("pwd", dir)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	flag("parallel", strconv.Itoa(int(req.GetParallel())))
	flag("tracing", h.tracing)
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = req.GetProgram() //nolint:staticcheck // older engines
	}
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	// Config keys go to the SDK as "<namespace>:config:<name>", which every SDK version reads.
	cfg := map[string]string{}
	for k, v := range req.GetConfig() {
		key, err := config.ParseKey(k)
		if err != nil {
			return &pulumirpc.RunResponse{Error: err.Error()}, nil
		}
		cfg[key.Namespace()+":config:"+key.Name()] = v
	}
	cfgJSON, _ := json.Marshal(cfg)
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, _ := json.Marshal(secretKeys)

	env := append(os.Environ(), "PULUMI_CONFIG="+string(cfgJSON), "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))
	env = append(env, opts.env()...)

	runCtx, stop := context.WithCancel(h.cancelCtx)
	defer stop()
	context.AfterFunc(ctx, stop)
	cmd := exec.CommandContext(runCtx, nodeBin, args...)
	cmd.Dir = dir
	cmd.Env = env
	// Node may switch its stdio to non-blocking mode: never hand it our own file descriptors.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	cmd.Stderr = struct{ io.Writer }{os.Stderr}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second

	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ee.ExitCode() == exitAfterUserMessage {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", ee.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: "could not run node: " + err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// ---- RunPlugin: policy packs and Node plugins -------------------------------------------------------

func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	ctx := server.Context()
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	info := req.GetInfo()
	dir := info.GetProgramDirectory()
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("could not find node on $PATH: %w", err)
	}
	opts, err := parseOptions(info)
	if err != nil {
		return err
	}
	env := append(append([]string{}, req.GetEnv()...), opts.env()...)

	analyzer := req.GetKind() == "analyzer"
	module := "@pulumi/pulumi/cmd/run-plugin"
	if analyzer {
		module = "@pulumi/pulumi/cmd/run-policy-pack"
	}
	runPath, err := resolveModule(dir, module)
	if err != nil {
		return err
	}
	args := append([]string{runPath}, opts.nodeargs...)
	if analyzer {
		args = append(append(args, req.GetArgs()...), dir) // the engine address, then the pack
	} else {
		args = append(append(args, dir), req.GetArgs()...)
	}

	var proxy *sdk.PolicyProxy
	if analyzer {
		// The SDK's proxy answers the engine's Handshake/ConfigureStack itself, so the pack can be
		// started with the stack's configuration in its environment.
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("could not start the policy pack proxy: %w", err)
		}
		conf, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get the stack configuration: %w", err)
		}
		if conf != nil {
			add := func(k, v string) {
				if v != "" {
					env = append(env, k+"="+v)
				}
			}
			add("PULUMI_NODEJS_ORGANIZATION", conf.GetOrganization())
			add("PULUMI_NODEJS_PROJECT", conf.GetProject())
			add("PULUMI_NODEJS_STACK", conf.GetStack())
			add("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(conf.GetDryRun()))
			if conf.GetConfig() != nil {
				b, err := json.Marshal(conf.GetConfig())
				if err != nil {
					return err
				}
				add("PULUMI_CONFIG", string(b))
			}
		}
	}

	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if analyzer {
		cmd.Dir = dir // policy packs have always run from their own folder
	} else {
		cmd.Dir = req.GetPwd()
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("could not run node: %w", err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd)
	} else {
		err = cmd.Wait()
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("Program exited with non-zero exit code: %d", ee.ExitCode())
		}
		return err
	}
	return closer.Close()
}

// ---- dependencies and about -------------------------------------------------------------------------

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory() //nolint:staticcheck // older engines
	}
	args := []string{"install", "--no-audit", "--no-fund"}
	if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err == nil {
		args = []string{"ci", "--no-audit", "--no-fund"}
	}
	fmt.Fprintf(stdout, "Installing dependencies in %s: npm %s\n", dir, strings.Join(args, " "))
	cmd := exec.CommandContext(server.Context(), "npm", args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm %s failed: %w", args[0], err)
	}
	return closer.Close()
}

func (h *host) GetProgramDependencies(_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	var pj packageJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for name, want := range pj.Dependencies {
		v := want
		if b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json")); err == nil {
			var dep packageJSON
			if json.Unmarshal(b, &dep) == nil && dep.Version != "" {
				v = dep.Version
			}
		}
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: name, Version: v})
	}
	return resp, nil
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on $PATH: %w", err)
	}
	out, err := exec.Command(nodeBin, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: nodeBin,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "v"),
	}, nil
}
