package testenv

import (
	"archive/tar"
	"bytes"
	_ "crypto/sha256" // go-digest's sha256 needs the hash registered
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// epoch is the modification time of every entry in the image, so that the
// same busybox binary always yields the same digests.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// BuildBusyboxImage writes an OCI image layout tar for ref (a full reference
// such as docker.io/library/busybox:latest) to w. Its single uncompressed
// layer holds the static busybox binary at /bin/busybox, a symlink in /bin for
// every applet that `busybox --list` prints, /etc/passwd, /etc/group and /tmp.
// The config names runtime.GOARCH and linux as the platform and runs sh by
// default. All timestamps are fixed, so the digests depend only on the inputs.
// `ctr image import` names the image after the org.opencontainers.image.ref.name
// annotation of the index entry, which carries ref.
func BuildBusyboxImage(w io.Writer, busyboxPath, ref string) error {
	return BuildBusyboxImageCmd(w, busyboxPath, ref, []string{"sh"})
}

// BuildBusyboxImageCmd is BuildBusyboxImage with cmd as the image's default
// command, e.g. a pod sandbox image that sleeps forever.
func BuildBusyboxImageCmd(w io.Writer, busyboxPath, ref string, cmd []string) error {
	if ref == "" {
		return fmt.Errorf("busybox image: empty reference")
	}
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return fmt.Errorf("busybox image: %w", err)
	}
	applets, err := busyboxApplets(busyboxPath)
	if err != nil {
		return err
	}
	layer, err := busyboxLayer(bin, applets)
	if err != nil {
		return err
	}
	layerDesc := descriptor(ocispec.MediaTypeImageLayer, layer)

	platform := ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"}
	created := epoch
	config, err := json.Marshal(ocispec.Image{
		Created:  &created,
		Platform: platform,
		Config: ocispec.ImageConfig{
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd: cmd,
		},
		RootFS: ocispec.RootFS{
			Type: "layers",
			// The layer is stored uncompressed, so its diff id is its digest.
			DiffIDs: []digest.Digest{layerDesc.Digest},
		},
	})
	if err != nil {
		return fmt.Errorf("busybox image: config: %w", err)
	}
	configDesc := descriptor(ocispec.MediaTypeImageConfig, config)

	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	})
	if err != nil {
		return fmt.Errorf("busybox image: manifest: %w", err)
	}
	manifestDesc := descriptor(ocispec.MediaTypeImageManifest, manifest)
	manifestDesc.Platform = &platform
	manifestDesc.Annotations = map[string]string{ocispec.AnnotationRefName: ref}

	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manifestDesc},
	})
	if err != nil {
		return fmt.Errorf("busybox image: index: %w", err)
	}
	layout, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return fmt.Errorf("busybox image: layout: %w", err)
	}

	tw := tar.NewWriter(w)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(fileHeader(name, 0o644, len(data))); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	err = tw.WriteHeader(dirHeader("blobs/", 0o755))
	if err == nil {
		err = tw.WriteHeader(dirHeader("blobs/sha256/", 0o755))
	}
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{layerDesc, layer}, {configDesc, config}, {manifestDesc, manifest}} {
		if err == nil {
			err = add("blobs/sha256/"+b.desc.Digest.Encoded(), b.data)
		}
	}
	if err == nil {
		err = add(ocispec.ImageLayoutFile, layout)
	}
	if err == nil {
		err = add(ocispec.ImageIndexFile, index)
	}
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return fmt.Errorf("busybox image: write tar: %w", err)
	}
	return nil
}

// busyboxApplets returns the sorted applet names the binary was built with,
// excluding busybox itself.
func busyboxApplets(path string) ([]string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(path, "--list")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("busybox image: %s --list: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	var applets []string
	for _, name := range strings.Fields(string(out)) {
		if name == "busybox" || strings.Contains(name, "/") {
			continue
		}
		applets = append(applets, name)
	}
	if len(applets) == 0 {
		return nil, fmt.Errorf("busybox image: %s --list printed no applets", path)
	}
	slices.Sort(applets)
	return slices.Compact(applets), nil
}

// busyboxLayer returns the uncompressed layer tar.
func busyboxLayer(bin []byte, applets []string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")},
		{"etc/group", 0o644, []byte("root:x:0:\nnobody:x:65534:\n")},
	}
	var err error
	for _, d := range []struct {
		name string
		mode int64
	}{{"bin/", 0o755}, {"etc/", 0o755}, {"root/", 0o700}, {"tmp/", 0o1777}} {
		if err == nil {
			err = tw.WriteHeader(dirHeader(d.name, d.mode))
		}
	}
	if err == nil {
		err = tw.WriteHeader(fileHeader("bin/busybox", 0o755, len(bin)))
	}
	if err == nil {
		_, err = tw.Write(bin)
	}
	for _, a := range applets {
		if err == nil {
			h := &tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: epoch}
			err = tw.WriteHeader(h)
		}
	}
	for _, f := range files {
		if err == nil {
			err = tw.WriteHeader(fileHeader(f.name, f.mode, len(f.data)))
		}
		if err == nil {
			_, err = tw.Write(f.data)
		}
	}
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("busybox image: write layer: %w", err)
	}
	return buf.Bytes(), nil
}

func descriptor(mediaType string, data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
}

func dirHeader(name string, mode int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: epoch}
}

func fileHeader(name string, mode int64, size int) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(size), ModTime: epoch}
}
