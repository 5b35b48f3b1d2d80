package testenv

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// KubeAPIServerEnv and EtcdEnv name the binaries StartAPIServer runs
// (scripts/kube-apiserver.sh and scripts/etcd.sh build them and print
// their paths; scripts/test.sh sets both).
const (
	KubeAPIServerEnv = "FLEETSCOPE_KUBE_APISERVER"
	EtcdEnv          = "FLEETSCOPE_ETCD"
)

// crdSource is a directory of CustomResourceDefinitions in a Go module,
// read from the module's zip as the Go module proxy serves it, so that the
// schemas the API server enforces are the upstream project's own at a
// known version, and nothing of them is copied into this repository.
type crdSource struct {
	module, version, dir string
}

// crdSources are the CRDs StartAPIServer installs: KEDA's (ScaledObject,
// ScaledJob, TriggerAuthentication, ...) and Knative serving's (Service,
// Configuration, Route, Revision, ...). Two that the plans also target are
// missing because the Go module proxy does not serve their modules:
// kube-green's SleepInfo (github.com/kube-green/kube-green) and the KEDA
// HTTP add-on's HTTPScaledObject (github.com/kedacore/http-add-on). They
// are left out rather than written by hand, which would prove nothing.
var crdSources = []crdSource{
	{"github.com/kedacore/keda/v2", "v2.21.1", "config/crd/bases"},
	{"knative.dev/serving", "v0.51.0", "config/core/300-resources"},
}

// apiserverUser is the user of the token file's one token. It is in
// system:masters, which RBAC lets do everything, so a request is refused
// only for what it is, never for who sends it.
const apiserverUser = "fleetscope-test"

// maxAPIResponse bounds what is read of one API server response.
const maxAPIResponse = 16 << 20

// APIServer is a kube-apiserver with its own etcd, started by
// StartAPIServer. Its methods do what kubectl does against it: resources
// are found through the server's discovery, so custom resources work like
// built-in ones, and every write asks for strict field validation (kubectl
// apply's default), so a field the schema does not know is an error.
type APIServer struct {
	// URL is https://127.0.0.1:port.
	URL string
	// Token is a bearer token the server accepts for everything.
	Token string
	// CACert is the PEM certificate that the serving certificate is
	// verified against (it is its own).
	CACert []byte

	client *http.Client

	mu sync.Mutex
	// resources maps a group/version ("v1", "apps/v1") to its kinds, as
	// discovery listed them.
	resources map[string]map[string]apiResource
}

// apiResource is one resource of a discovery list.
type apiResource struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Namespaced bool   `json:"namespaced"`
}

// StatusError is a request the API server refused, with what its Status
// said.
type StatusError struct {
	Code    int    // HTTP status
	Reason  string // e.g. NotFound, Invalid, BadRequest
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message)
}

// StartAPIServer runs etcd and kube-apiserver on 127.0.0.1, waits until
// the API server is ready, installs the CRDs of crdSources and waits until
// they are served, and stops both when t ends. Without the binaries
// (FLEETSCOPE_KUBE_APISERVER, FLEETSCOPE_ETCD) it skips t, or fails it when
// FLEETSCOPE_INTEGRATION=1.
func StartAPIServer(t testing.TB) *APIServer {
	t.Helper()
	apiserverBin := toolBinary(t, KubeAPIServerEnv, "kube-apiserver", "./scripts/kube-apiserver.sh")
	etcdBin := toolBinary(t, EtcdEnv, "etcd", "./scripts/etcd.sh")
	start := time.Now()
	dir := t.TempDir()

	var etcdURL string
	startServer(t, "etcd", etcdBin, filepath.Join(dir, "etcd.log"), nil, func() ([]string, string, []string) {
		client, peer := freeAddr(t), freeAddr(t)
		etcdURL = "http://" + client
		// A data dir per attempt: one that a member of other ports
		// started in would keep that member's peer address.
		data := filepath.Join(dir, "etcd-"+strings.ReplaceAll(client, ":", "-"))
		return []string{"--name=testenv", "--data-dir=" + data,
			"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
			"--listen-peer-urls=http://" + peer, "--initial-advertise-peer-urls=http://" + peer,
			"--initial-cluster=testenv=http://" + peer,
			// The data dies with the test: durability only costs time.
			"--unsafe-no-fsync", "--log-level=warn"}, etcdURL + "/health", nil
	})
	etcdReady := time.Since(start)

	s, files, err := newAPIServerFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, "kube-apiserver", apiserverBin, filepath.Join(dir, "kube-apiserver.log"), s.client, func() ([]string, string, []string) {
		addr := freeAddr(t)
		_, port, _ := net.SplitHostPort(addr)
		s.URL = "https://" + addr
		return []string{"--etcd-servers=" + etcdURL,
			"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + port,
			"--tls-cert-file=" + files.cert, "--tls-private-key-file=" + files.key,
			"--token-auth-file=" + files.tokens, "--authorization-mode=RBAC",
			"--service-account-issuer=https://127.0.0.1:" + port,
			"--service-account-key-file=" + files.serviceAccountKey,
			"--service-account-signing-key-file=" + files.serviceAccountKey,
			"--service-cluster-ip-range=10.0.0.0/24",
			// Its own files under dir, not the working directory.
			"--cert-dir=" + filepath.Join(dir, "certs"), "--profiling=false"}, s.URL + "/readyz", nil
	})
	apiserverReady := time.Since(start)

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	n, err := s.installCRDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("API server at %s: etcd ready after %s, kube-apiserver after %s, %d CRDs served after %s",
		s.URL, etcdReady.Round(time.Millisecond), apiserverReady.Round(time.Millisecond), n,
		time.Since(start).Round(time.Millisecond))
	return s
}

// apiserverFiles are the files newAPIServerFiles writes.
type apiserverFiles struct {
	cert, key, tokens, serviceAccountKey string
}

// newAPIServerFiles writes into dir a self-signed serving certificate for
// 127.0.0.1, a service account signing key and a token file with one
// token, and returns an APIServer whose client trusts that certificate and
// sends that token.
func newAPIServerFiles(dir string) (*APIServer, apiserverFiles, error) {
	f := apiserverFiles{
		cert:              filepath.Join(dir, "serving.crt"),
		key:               filepath.Join(dir, "serving.key"),
		tokens:            filepath.Join(dir, "tokens.csv"),
		serviceAccountKey: filepath.Join(dir, "service-account.key"),
	}
	certPEM, keyPEM, err := selfSignedCert()
	if err != nil {
		return nil, f, err
	}
	saKey, err := ecKeyPEM()
	if err != nil {
		return nil, f, err
	}
	secret := make([]byte, 16)
	rand.Read(secret)
	token := hex.EncodeToString(secret)
	// token,user,uid,"group,..."
	tokens := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n", token, apiserverUser, apiserverUser)
	for name, data := range map[string][]byte{f.cert: certPEM, f.key: keyPEM, f.serviceAccountKey: saKey, f.tokens: []byte(tokens)} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return nil, f, err
		}
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	s := &APIServer{
		Token:  token,
		CACert: certPEM,
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &bearer{token: token, next: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}},
		},
		resources: map[string]map[string]apiResource{},
	}
	return s, f, nil
}

// bearer adds a bearer token to each request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// selfSignedCert returns a certificate for 127.0.0.1 and localhost signed
// by its own key, and that key, both PEM.
func selfSignedCert() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "fleetscope test kube-apiserver"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// ecKeyPEM returns a new P-256 private key, PEM.
func ecKeyPEM() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// Create creates the objects of obj, a YAML stream or a JSON object, as
// kubectl create -f does (with dryRun, as kubectl apply --dry-run=server
// does for new objects): each in its metadata.namespace, "default" if it
// has none, when its kind is namespaced. The error names each object the
// server refused and carries its message.
func (s *APIServer) Create(ctx context.Context, obj []byte, dryRun bool) error {
	docs, err := yamlDocuments(obj)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if len(docs) == 0 {
		return errors.New("create: no object")
	}
	var errs []error
	for _, doc := range docs {
		errs = append(errs, s.create(ctx, doc, dryRun))
	}
	return errors.Join(errs...)
}

// create creates one object, JSON.
func (s *APIServer) create(ctx context.Context, body []byte, dryRun bool) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	p, err := s.path(ctx, head.APIVersion, head.Kind, head.Metadata.Namespace, "")
	if err != nil {
		return fmt.Errorf("create %s %s: %w", head.Kind, head.Metadata.Name, err)
	}
	if _, err := s.do(ctx, http.MethodPost, p, writeQuery(dryRun), "application/json", body); err != nil {
		return fmt.Errorf("create %s %s: %w", head.Kind, head.Metadata.Name, err)
	}
	return nil
}

// Patch types Patch accepts, as kubectl patch --type strategic and merge
// send them.
const (
	StrategicMergePatch = "application/strategic-merge-patch+json"
	MergePatch          = "application/merge-patch+json"
)

// Patch applies patch, YAML or JSON, of patchType (StrategicMergePatch or
// MergePatch) to the named object, with dryRun as kubectl patch
// --dry-run=server does. Custom resources take only merge patches: the
// server refuses a strategic one, as it does kubectl's.
func (s *APIServer) Patch(ctx context.Context, apiVersion, kind, namespace, name string, patch []byte, patchType string, dryRun bool) error {
	if patchType != StrategicMergePatch && patchType != MergePatch {
		return fmt.Errorf("patch %s %s: patch type %q is neither %s nor %s", kind, name, patchType, StrategicMergePatch, MergePatch)
	}
	docs, err := yamlDocuments(patch)
	if err != nil {
		return fmt.Errorf("patch %s %s: %w", kind, name, err)
	}
	if len(docs) != 1 {
		return fmt.Errorf("patch %s %s: %d documents, want one", kind, name, len(docs))
	}
	body := docs[0]
	p, err := s.path(ctx, apiVersion, kind, namespace, name)
	if err != nil {
		return fmt.Errorf("patch %s %s: %w", kind, name, err)
	}
	if _, err := s.do(ctx, http.MethodPatch, p, writeQuery(dryRun), patchType, body); err != nil {
		return fmt.Errorf("patch %s %s: %w", kind, name, err)
	}
	return nil
}

// Get returns the named object, JSON.
func (s *APIServer) Get(ctx context.Context, apiVersion, kind, namespace, name string) ([]byte, error) {
	p, err := s.path(ctx, apiVersion, kind, namespace, name)
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", kind, name, err)
	}
	b, err := s.do(ctx, http.MethodGet, p, nil, "", nil)
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", kind, name, err)
	}
	return b, nil
}

// writeQuery is the query of a create or a patch: strict field validation
// always, so that a field the schema does not know fails rather than being
// dropped with a warning, and dryRun=All with dryRun.
func writeQuery(dryRun bool) url.Values {
	q := url.Values{"fieldValidation": {"Strict"}}
	if dryRun {
		q.Set("dryRun", "All")
	}
	return q
}

// path returns the URL path of a kind's collection (name "") or of one
// object, from discovery. A namespaced kind without a namespace is in
// "default".
func (s *APIServer) path(ctx context.Context, apiVersion, kind, namespace, name string) (string, error) {
	if apiVersion == "" || kind == "" {
		return "", errors.New("no apiVersion or kind")
	}
	r, err := s.resource(ctx, apiVersion, kind)
	if err != nil {
		return "", err
	}
	p := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		p = "/api/" + apiVersion
	}
	if r.Namespaced {
		if namespace == "" {
			namespace = "default"
		}
		p += "/namespaces/" + url.PathEscape(namespace)
	}
	p += "/" + r.Name
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p, nil
}

// resource returns the resource of kind in apiVersion, reading the
// group/version's discovery list when it is not known yet or does not
// have the kind (a CRD installed since).
func (s *APIServer) resource(ctx context.Context, apiVersion, kind string) (apiResource, error) {
	s.mu.Lock()
	r, ok := s.resources[apiVersion][kind]
	s.mu.Unlock()
	if ok {
		return r, nil
	}
	list, err := s.discover(ctx, apiVersion)
	if err != nil {
		return apiResource{}, err
	}
	s.mu.Lock()
	s.resources[apiVersion] = list
	s.mu.Unlock()
	if r, ok = list[kind]; !ok {
		return apiResource{}, fmt.Errorf("the server has no kind %s in %s", kind, apiVersion)
	}
	return r, nil
}

// discover returns the kinds of apiVersion the server serves, by kind.
func (s *APIServer) discover(ctx context.Context, apiVersion string) (map[string]apiResource, error) {
	p := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		p = "/api/" + apiVersion
	}
	b, err := s.do(ctx, http.MethodGet, p, nil, "", nil)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", apiVersion, err)
	}
	var list struct {
		Resources []apiResource `json:"resources"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", apiVersion, err)
	}
	kinds := map[string]apiResource{}
	for _, r := range list.Resources {
		// Subresources (deployments/scale, .../status) share or
		// borrow kinds; the collection is the one without a slash.
		if !strings.Contains(r.Name, "/") {
			kinds[r.Kind] = r
		}
	}
	return kinds, nil
}

// do sends one request and returns the response body, or a *StatusError
// (wrapped) when the server answers anything but 2xx.
func (s *APIServer) do(ctx context.Context, method, p string, query url.Values, contentType string, body []byte) ([]byte, error) {
	u := s.URL + p
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return b, nil
	}
	var status struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &status) != nil || status.Message == "" {
		status.Message = strings.TrimSpace(string(b))
	}
	return nil, &StatusError{Code: resp.StatusCode, Reason: status.Reason, Message: status.Message}
}

// installCRDs creates every CRD of crdSources and waits until each is
// established and its kind is in discovery, and returns how many it
// installed.
func (s *APIServer) installCRDs(ctx context.Context) (int, error) {
	var crds []crd
	for _, src := range crdSources {
		docs, err := src.read(ctx)
		if err != nil {
			return 0, err
		}
		crds = append(crds, docs...)
	}
	for _, c := range crds {
		if _, err := s.do(ctx, http.MethodPost, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", nil, "application/json", c.json); err != nil {
			return 0, fmt.Errorf("CRD %s (%s): %w", c.name, c.from, err)
		}
	}
	for _, c := range crds {
		if err := s.awaitCRD(ctx, c); err != nil {
			return 0, fmt.Errorf("CRD %s (%s): %w", c.name, c.from, err)
		}
	}
	return len(crds), nil
}

// crd is one CustomResourceDefinition, JSON, and where it came from.
type crd struct {
	name, from string
	json       []byte
}

// awaitCRD waits until c is established and every version it serves lists
// its kind in discovery: only then does a create of that kind find its
// resource.
func (s *APIServer) awaitCRD(ctx context.Context, c crd) error {
	var spec struct {
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Served bool   `json:"served"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(c.json, &spec); err != nil {
		return err
	}
	var versions []string
	for _, v := range spec.Spec.Versions {
		if v.Served {
			versions = append(versions, v.Name)
		}
	}
	for {
		last := s.crdServed(ctx, c.name, spec.Spec.Group, spec.Spec.Names.Kind, versions)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not served: %w (%v)", last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// crdServed returns nil when the CRD named name is established and kind
// is in the discovery list of each of group's versions.
func (s *APIServer) crdServed(ctx context.Context, name, group, kind string, versions []string) error {
	b, err := s.do(ctx, http.MethodGet, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, nil, "", nil)
	if err != nil {
		return err
	}
	var status struct {
		Status struct {
			Conditions []struct {
				Type   string `json:"type"`
				Status string `json:"status"`
			} `json:"conditions"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &status); err != nil {
		return err
	}
	established := false
	for _, c := range status.Status.Conditions {
		established = established || c.Type == "Established" && c.Status == "True"
	}
	if !established {
		return errors.New("not established")
	}
	for _, v := range versions {
		if _, err := s.resource(ctx, group+"/"+v, kind); err != nil {
			return err
		}
	}
	return nil
}

// read returns the CRDs in src's directory of its module, from the
// module's zip, downloaded into the module cache by the go command (CI's
// module cache persists) and verified against the checksum database. The
// zip rather than the extracted tree: the go command extracts a module
// only if the toolchain meets its go line, and KEDA v2.21.1's asks for a
// newer Go than the project builds with.
func (src crdSource) read(ctx context.Context) ([]crd, error) {
	mod := src.module + "@" + src.version
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod)
	// Outside any module, so that this repository's go.mod has no say.
	cmd.Dir = os.TempDir()
	out, runErr := cmd.Output()
	var info struct {
		Zip   string
		Error string
	}
	if err := json.Unmarshal(out, &info); err != nil || info.Zip == "" {
		return nil, fmt.Errorf("go mod download %s: %v %v %s", mod, runErr, err, info.Error)
	}
	zr, err := zip.OpenReader(info.Zip)
	if err != nil {
		// Only now is an error of the download itself fatal: one about
		// the toolchain leaves a good zip.
		return nil, fmt.Errorf("go mod download %s: %v (%s)", mod, err, info.Error)
	}
	defer zr.Close()
	prefix := mod + "/" + src.dir + "/"
	var crds []crd
	for _, f := range zr.File {
		name, ok := strings.CutPrefix(f.Name, prefix)
		if !ok || strings.Contains(name, "/") || path.Ext(name) != ".yaml" {
			continue
		}
		docs, err := readZipYAML(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", mod, f.Name, err)
		}
		for _, doc := range docs {
			var head struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(doc, &head); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", mod, f.Name, err)
			}
			if head.Kind == "CustomResourceDefinition" {
				crds = append(crds, crd{name: head.Metadata.Name, from: mod + "/" + src.dir + "/" + name, json: doc})
			}
		}
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("%s: no CRDs under %s", mod, src.dir)
	}
	return crds, nil
}

// readZipYAML returns the documents of a YAML file in a zip, as
// yamlDocuments does.
func readZipYAML(f *zip.File) ([][]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxAPIResponse))
	if err != nil {
		return nil, err
	}
	return yamlDocuments(b)
}

// yamlSeparator is a line that separates the documents of a YAML stream.
var yamlSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// yamlDocuments returns the documents of a YAML stream (a JSON object is
// one), each as JSON, skipping empty ones. A stream must be split first:
// converted whole, it would silently become its first document.
func yamlDocuments(b []byte) ([][]byte, error) {
	var docs [][]byte
	for _, doc := range yamlSeparator.Split(string(b), -1) {
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return nil, err
		}
		if string(j) != "null" {
			docs = append(docs, j)
		}
	}
	return docs, nil
}
