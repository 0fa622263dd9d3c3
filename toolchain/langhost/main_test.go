package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A program's resource plugins are the packages of its dependency graph whose package.json says
// "pulumi": {"resource": true}, found as Node finds them (nested node_modules first, then upward); a
// package nobody depends on, and another project's node_modules beside the program, are not the
// program's.
func TestFindPackages(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "package.json"),
		`{"name": "app", "dependencies": {"@pulumi/kubernetes": "4.25.0", "@pulumi/pulumi": "3.276.0"}, "optionalDependencies": {"gone": "1.0.0"}, "devDependencies": {"tool": "1.0.0"}}`)
	writeFile(t, filepath.Join(dir, "node_modules/@pulumi/kubernetes/package.json"),
		`{"name": "@pulumi/kubernetes", "version": "4.25.0", "pulumi": {"resource": true}, "dependencies": {"@pulumi/pulumi": "^3", "third": "1"}}`)
	writeFile(t, filepath.Join(dir, "node_modules/@pulumi/pulumi/package.json"),
		`{"name": "@pulumi/pulumi", "version": "3.276.0", "dependencies": {"@pulumi/kubernetes": "*"}}`)
	// Nested under the package that needs it: Node finds this copy first.
	writeFile(t, filepath.Join(dir, "node_modules/@pulumi/kubernetes/node_modules/third/package.json"),
		`{"name": "third", "version": "1.0.0", "pulumi": {"resource": true, "name": "thing", "version": "2.0.0"}}`)
	writeFile(t, filepath.Join(dir, "node_modules/third/package.json"),
		`{"name": "third", "version": "9.0.0", "pulumi": {"resource": true, "name": "thing", "version": "9.0.0"}}`)
	writeFile(t, filepath.Join(dir, "node_modules/tool/package.json"),
		`{"name": "tool", "version": "1.0.0", "devDependencies": {"@pulumi/random": "4"}}`)
	// Installed, but nobody depends on it.
	writeFile(t, filepath.Join(dir, "node_modules/@pulumi/random/package.json"),
		`{"name": "@pulumi/random", "version": "4.0.0", "pulumi": {"resource": true}}`)
	// Another project below the program, with its own dependencies.
	writeFile(t, filepath.Join(dir, "deployments/package.json"), `{"name": "other", "dependencies": {"@pulumi/pulumiservice": "1"}}`)
	writeFile(t, filepath.Join(dir, "deployments/node_modules/@pulumi/pulumiservice/package.json"),
		`{"name": "@pulumi/pulumiservice", "version": "1.3.0", "pulumi": {"resource": true}}`)

	// The program directory may be below the package.json (Pulumi.yaml's main).
	found, err := findPackages(filepath.Join(dir, "src"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range found {
		got = append(got, p.name+"@"+p.version)
	}
	sort.Strings(got)
	want := []string{"kubernetes@v4.25.0", "thing@v2.0.0"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("findPackages = %v, want %v", got, want)
	}
}

// The SDK's entry points resolve as Node resolves them: the package from the program's folder
// upward, then the file, the file with .js, or the folder's index.js.
func TestResolveModule(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "node_modules/@pulumi/pulumi/package.json"), `{"name": "@pulumi/pulumi", "version": "3.276.0"}`)
	writeFile(t, filepath.Join(dir, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
	writeFile(t, filepath.Join(dir, "node_modules/@pulumi/pulumi/cmd/run-plugin.js"), "")
	program := filepath.Join(dir, "app")
	for module, want := range map[string]string{
		"@pulumi/pulumi/cmd/run":        filepath.Join(dir, "node_modules/@pulumi/pulumi/cmd/run/index.js"),
		"@pulumi/pulumi/cmd/run-plugin": filepath.Join(dir, "node_modules/@pulumi/pulumi/cmd/run-plugin.js"),
		"/abs/run.js":                   "/abs/run.js",
	} {
		got, err := resolveModule(program, module)
		if err != nil || got != want {
			t.Errorf("resolveModule(%q) = %q, %v; want %q", module, got, err, want)
		}
	}
	if _, err := resolveModule(program, "@pulumi/pulumi/cmd/missing"); err == nil {
		t.Error("resolveModule found a module that does not exist")
	}
	if _, err := resolveModule(program, "nope/cmd"); err == nil || !strings.Contains(err.Error(), "run npm install there") {
		t.Errorf("a missing package: %v, want the fix", err)
	}
}

func TestFindPackagesWithoutPackageJSON(t *testing.T) {
	if _, err := findPackages(t.TempDir()); err == nil {
		t.Fatal("findPackages found a package.json in an empty folder tree")
	}
}

func TestDescribeRefusesUnnamedThirdPartyPlugin(t *testing.T) {
	var pj packageJSON
	pj.Name, pj.Version, pj.Pulumi.Resource = "third", "1.0.0", true
	if _, err := describe(pj); err == nil {
		t.Fatal("describe accepted a third-party plugin package without pulumi.name")
	}
}

func TestParseOptions(t *testing.T) {
	opts, err := structpb.NewStruct(map[string]any{"typescript": false, "nodeargs": "--a  --b"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseOptions(&pulumirpc.ProgramInfo{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	if o.typescript || len(o.nodeargs) != 2 || len(o.env()) != 0 {
		t.Fatalf("parseOptions = %+v, env %v", o, o.env())
	}
	bad, _ := structpb.NewStruct(map[string]any{"typescript": "yes"})
	if _, err := parseOptions(&pulumirpc.ProgramInfo{Options: bad}); err == nil {
		t.Fatal("parseOptions accepted typescript: \"yes\"")
	}
}

// go.mod builds against the sdk/v3 of the CLI that toolchain/versions.env pins.
func TestSDKVersionMatchesVersionsEnv(t *testing.T) {
	env, err := os.ReadFile("../versions.env")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	pinned := regexp.MustCompile(`(?m)^PULUMI_VERSION=(\S+)$`).FindSubmatch(env)
	required := regexp.MustCompile(`(?m)github\.com/pulumi/pulumi/sdk/v3 v(\S+)`).FindSubmatch(mod)
	if pinned == nil || required == nil {
		t.Fatalf("PULUMI_VERSION in versions.env: %q; sdk/v3 in go.mod: %q", pinned, required)
	}
	if string(pinned[1]) != string(required[1]) {
		t.Fatalf("go.mod requires sdk/v3 v%s, toolchain/versions.env pins PULUMI_VERSION=%s: "+
			"run `go get github.com/pulumi/pulumi/sdk/v3@v%s && go mod tidy` in toolchain/langhost",
			required[1], pinned[1], pinned[1])
	}
}
