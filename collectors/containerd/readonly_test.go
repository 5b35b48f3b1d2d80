package containerd

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The agent must never change containerd's state. These tests prove it in
// two steps: only api.go touches containerd's client, and api.go calls
// nothing on it but read-only methods. Everything else reaches containerd
// through the API interface, whose methods are all reads.

// readOnlyCalls are the client and service methods api.go may call.
var readOnlyCalls = []string{
	"New", "WithTimeout", "WithNamespace", // constructing the client and contexts
	"NamespaceService", "ContainerService", "TaskService", "SnapshotService",
	"List", "Usage", "Subscribe", "Version", "Close",
}

func TestAPIIsReadOnly(t *testing.T) {
	var got []string
	typ := reflect.TypeFor[API]()
	for i := range typ.NumMethod() {
		got = append(got, typ.Method(i).Name)
	}
	want := []string{"Close", "Containers", "Namespaces", "SnapshotUsage", "Subscribe", "Tasks", "Version"}
	if !slices.Equal(got, want) {
		t.Fatalf("API methods = %v, want exactly the read-only %v: a new method needs a review that it cannot mutate", got, want)
	}
}

func TestClientCallsAreReadOnly(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "api.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		calls++
		if !slices.Contains(readOnlyCalls, sel.Sel.Name) && !strings.HasPrefix(sel.Sel.Name, "Get") &&
			sel.Sel.Name != "Errorf" {
			t.Errorf("%s: api.go calls %s, which is not on the read-only list", fset.Position(call.Pos()), sel.Sel.Name)
		}
		return true
	})
	if calls == 0 {
		t.Fatal("no calls found in api.go: the check is not looking at the right file")
	}
}

// Only this package's api.go imports containerd's client or its service
// APIs; the rest of the module cannot call containerd except through API.
func TestOnlyAPIImportsTheClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "github.com/fleetscope/fleetscope/...").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	const self = "github.com/fleetscope/fleetscope/collectors/containerd"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] == self {
			continue
		}
		for _, imp := range fields[1:] {
			if imp == "github.com/containerd/containerd/v2/client" || strings.HasPrefix(imp, "github.com/containerd/containerd/api/services/") {
				t.Errorf("%s imports %s: containerd must be reached only through collectors/containerd.API", fields[0], imp)
			}
		}
	}
	// Within this package, only api.go may import them.
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || name == "api.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if p == "github.com/containerd/containerd/v2/client" || strings.HasPrefix(p, "github.com/containerd/containerd/api/services/") {
				t.Errorf("%s imports %s; only api.go may", name, p)
			}
		}
	}
}
