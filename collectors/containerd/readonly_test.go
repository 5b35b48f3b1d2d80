package containerd

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	eventsapi "github.com/containerd/containerd/api/services/events/v1"
	namespacesapi "github.com/containerd/containerd/api/services/namespaces/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The agent must never change containerd's state. These tests prove it in
// three steps: the API interface offers only reads; the one gRPC connection
// api.go makes lets only the read RPCs through, whatever code tries to call
// on it; and no other file, here or elsewhere, can reach containerd's
// services except through API.

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

// services are the gRPC services api.go uses, each with every method it
// has (reads and writes).
var services = []grpc.ServiceDesc{
	namespacesapi.Namespaces_ServiceDesc,
	containersapi.Containers_ServiceDesc,
	tasksapi.Tasks_ServiceDesc,
	eventsapi.Events_ServiceDesc,
	snapshotsapi.Snapshots_ServiceDesc,
	versionapi.Version_ServiceDesc,
}

// The allow-list names reads only, and each is a method containerd's API
// really has (a renamed method would otherwise be refused silently).
func TestReadOnlyMethodsAreReads(t *testing.T) {
	want := []string{
		"/containerd.services.containers.v1.Containers/List",
		"/containerd.services.containers.v1.Containers/ListStream",
		"/containerd.services.events.v1.Events/Subscribe",
		"/containerd.services.namespaces.v1.Namespaces/List",
		"/containerd.services.snapshots.v1.Snapshots/Usage",
		"/containerd.services.tasks.v1.Tasks/List",
		"/containerd.services.version.v1.Version/Version",
	}
	got := slices.Sorted(maps.Keys(readOnlyMethods))
	if !slices.Equal(got, want) {
		t.Fatalf("allowed RPCs = %v, want exactly the reads %v: a new one needs a review that it cannot mutate", got, want)
	}
	all := map[string]bool{}
	for _, m := range allMethods() {
		all[m.name] = true
	}
	for _, m := range want {
		if !all[m] {
			t.Errorf("%s is not a method of containerd's API", m)
		}
	}
}

type method struct {
	name   string
	stream bool
}

func allMethods() []method {
	var ms []method
	for _, s := range services {
		for _, m := range s.Methods {
			ms = append(ms, method{"/" + s.ServiceName + "/" + m.MethodName, false})
		}
		for _, m := range s.Streams {
			ms = append(ms, method{"/" + s.ServiceName + "/" + m.StreamName, true})
		}
	}
	return ms
}

// recordingServer answers every RPC on a unix socket without implementing
// any, and records which methods reached it.
func recordingServer(t *testing.T) (socket string, seen func() []string) {
	t.Helper()
	socket = filepath.Join(t.TempDir(), "containerd.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		m, _ := grpc.MethodFromServerStream(stream)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		return status.Error(codes.Unimplemented, "recording only")
	}))
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return socket, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Sorted(slices.Values(got))
	}
}

// Every method of every service api.go uses is tried on the connection
// Dial makes: only the allow-listed reads reach the daemon, everything else
// is refused in the agent.
func TestConnectionRefusesWrites(t *testing.T) {
	socket, seen := recordingServer(t)
	api, err := Dial(socket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	conn := api.(*rpcAPI).conn
	ctx := context.Background()
	var wantSeen []string
	for _, m := range allMethods() {
		if m.stream {
			var s grpc.ClientStream
			s, err = conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, m.name)
			if err == nil {
				s.SendMsg(&emptypb.Empty{})
				s.CloseSend()
				err = s.RecvMsg(&emptypb.Empty{})
			}
		} else {
			err = conn.Invoke(ctx, m.name, &emptypb.Empty{}, &emptypb.Empty{})
		}
		if readOnlyMethods[m.name] {
			wantSeen = append(wantSeen, m.name)
			if errors.Is(err, errNotReadOnly) {
				t.Errorf("%s: a read was refused", m.name)
			}
		} else if !errors.Is(err, errNotReadOnly) {
			t.Errorf("%s: err = %v, want it refused as not read-only", m.name, err)
		}
	}
	slices.Sort(wantSeen)
	if got := seen(); !slices.Equal(got, wantSeen) {
		t.Fatalf("RPCs that reached containerd = %v, want only %v", got, wantSeen)
	}
}

// api.go makes exactly one connection, and it carries the guards.
func TestOneGuardedConnection(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "api.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	dials := 0
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "grpc" ||
			!slices.Contains([]string{"NewClient", "Dial", "DialContext"}, sel.Sel.Name) {
			return true
		}
		dials++
		guards := map[string]bool{}
		ast.Inspect(call, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && (id.Name == "guardUnary" || id.Name == "guardStream") {
				guards[id.Name] = true
			}
			return true
		})
		if len(guards) != 2 {
			t.Errorf("%s: a connection without both read-only guards", fset.Position(call.Pos()))
		}
		return true
	})
	if dials != 1 {
		t.Fatalf("api.go makes %d gRPC connections, want exactly the one Dial makes", dials)
	}
}

// Only this package's api.go imports containerd's client, its service APIs
// or gRPC itself; the rest of the module cannot call containerd except
// through API. (Other packages may use gRPC for other ends, such as OTLP.)
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
			if reachesContainerd(imp) {
				t.Errorf("%s imports %s: containerd must be reached only through collectors/containerd.API", fields[0], imp)
			}
		}
	}
	// Within this package, only api.go may import them, or gRPC.
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
			if reachesContainerd(p) || strings.HasPrefix(p, "google.golang.org/grpc") {
				t.Errorf("%s imports %s; only api.go may", name, p)
			}
		}
	}
}

// reachesContainerd reports whether an import path can call containerd's
// services.
func reachesContainerd(imp string) bool {
	return imp == "github.com/containerd/containerd/v2/client" ||
		strings.HasPrefix(imp, "github.com/containerd/containerd/api/services/")
}
