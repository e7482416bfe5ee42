// Command openrollout-images builds the local cluster's images from the
// static openrollout-testapp binary and pushes them to the local registry.
//
//	openrollout-images push --registry 127.0.0.1:PORT --binary PATH [--repository openrollout/testapp]
//	                        [--pause-repository openrollout/pause] [--only TAG[,TAG...]]
//	openrollout-images tag  --registry 127.0.0.1:PORT --from NAME:TAG --tag-as NAME:TAG
//
// Each image is one layer (the binary at /testapp plus empty /etc and /tmp)
// on no base image, with fixed timestamps: the same binary always gives the
// same digests, so a rebuilt cluster pulls nothing new. Output: one
// "<repository>:<tag> <digest>" line per image written.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// spec is one image of the table below. repo says which repository flag
// names it: the test app's or the pause image's.
type spec struct {
	repo       string // "testapp" or "pause"
	tag        string
	entrypoint []string
	cmd        []string
	env        []string
	ports      []string
}

// serveSpec is a version of the test app: `serve` answering VERSION.
func serveSpec(tag string) spec {
	return spec{repo: "testapp", tag: tag, entrypoint: []string{"/testapp"}, cmd: []string{"serve"},
		env: []string{"VERSION=" + tag}, ports: []string{"8080/tcp"}}
}

// images is every image push writes, all from the same binary:
//   - testapp:v1, v2, v3  three releases of the app (serve on 8080, VERSION=vN)
//   - testapp:broken      a bad release: `crash` exits 1 at once (CrashLoopBackOff)
//   - pause:3.10          the pod sandbox image containerd runs (`pause`)
//
// `push --only vN` also accepts any other vN, made like v1.
var images = []spec{
	serveSpec("v1"),
	serveSpec("v2"),
	serveSpec("v3"),
	{repo: "testapp", tag: "broken", entrypoint: []string{"/testapp"}, cmd: []string{"crash"},
		env: []string{"VERSION=broken"}, ports: []string{"8080/tcp"}},
	{repo: "pause", tag: "3.10", entrypoint: []string{"/testapp", "pause"}},
}

// epoch is every timestamp in the images, for reproducible digests.
var epoch = time.Unix(0, 0).UTC()

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: openrollout-images push|tag [flags]  (-h lists the flags)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "push":
		err = runPush(os.Args[2:], os.Stdout)
	case "tag":
		err = runTag(os.Args[2:], os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q (want push or tag)", os.Args[1])
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "openrollout-images: %v\n", err)
		os.Exit(1)
	}
}

func runPush(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	registry := fs.String("registry", "", "registry host:port (plain HTTP)")
	binary := fs.String("binary", "", "the static linux/amd64 openrollout-testapp binary")
	repos := map[string]*string{
		"testapp": fs.String("repository", "openrollout/testapp", "repository of the test app images"),
		"pause":   fs.String("pause-repository", "openrollout/pause", "repository of the pause image"),
	}
	only := fs.String("only", "", "push only these tags (comma-separated; TAG or REPOSITORY:TAG)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *registry == "" || *binary == "" {
		return errors.New("push needs --registry and --binary")
	}
	specs, err := selectSpecs(*only, repos)
	if err != nil {
		return err
	}
	bin, err := readStaticBinary(*binary)
	if err != nil {
		return err
	}
	layer, err := binaryLayer(bin)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, s := range specs {
		img, err := buildImage(layer, s)
		if err != nil {
			return err
		}
		ref, err := name.NewTag(*registry+"/"+*repos[s.repo]+":"+s.tag, name.Insecure)
		if err != nil {
			return err
		}
		// The layer is shared: after the first image it is only checked.
		if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
		digest, err := img.Digest()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s:%s %s\n", ref.RepositoryStr(), ref.TagStr(), digest)
	}
	return nil
}

var versionTag = regexp.MustCompile(`^v[0-9]+$`)

// selectSpecs picks the images that --only names (all when empty).
func selectSpecs(only string, repos map[string]*string) ([]spec, error) {
	if only == "" {
		return images, nil
	}
	var picked []spec
	for _, want := range strings.Split(only, ",") {
		want = strings.TrimSpace(want)
		found := false
		for _, s := range images {
			if want == s.tag || want == *repos[s.repo]+":"+s.tag {
				picked, found = append(picked, s), true
			}
		}
		if !found {
			tag := strings.TrimPrefix(want, *repos["testapp"]+":")
			if !versionTag.MatchString(tag) {
				return nil, fmt.Errorf("--only %q: no such image (and not a vN tag)", want)
			}
			picked = append(picked, serveSpec(tag))
		}
	}
	return picked, nil
}

// readStaticBinary reads the binary and refuses one the images could not
// run: not ELF, not x86-64, or dynamically linked (there is no libc inside).
func readStaticBinary(path string) ([]byte, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--binary %s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("--binary %s is for %s, the images are linux/amd64", path, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("--binary %s is dynamically linked; build it with CGO_ENABLED=0", path)
		}
	}
	return os.ReadFile(path)
}

// binaryLayer is the one layer: /etc and /tmp (so runtimes and hooks find
// them) and the binary at /testapp, owned by root, timestamps at the epoch.
func binaryLayer(bin []byte) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	entries := []struct {
		hdr  tar.Header
		data []byte
	}{
		{tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755}, nil},
		{tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777}, nil},
		{tar.Header{Typeflag: tar.TypeReg, Name: "testapp", Mode: 0o755, Size: int64(len(bin))}, bin},
	}
	for _, e := range entries {
		e.hdr.ModTime, e.hdr.Format = epoch, tar.FormatUSTAR
		if err := tw.WriteHeader(&e.hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// buildImage makes an OCI image of the layer with the spec's config.
func buildImage(layer v1.Layer, s spec) (v1.Image, error) {
	ports := map[string]struct{}{}
	for _, p := range s.ports {
		ports[p] = struct{}{}
	}
	cfg := &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint:   s.entrypoint,
			Cmd:          s.cmd,
			Env:          s.env,
			ExposedPorts: ports,
			WorkingDir:   "/",
			Labels:       map[string]string{"org.opencontainers.image.title": s.repo + ":" + s.tag},
		},
	}
	if len(ports) == 0 {
		cfg.Config.ExposedPorts = nil
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "openrollout-images: /testapp"},
	})
}

// runTag points a tag at what another tag points to (`latest moves`). In the
// same repository only the manifest is written; across repositories the
// blobs are mounted from the source first.
func runTag(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("tag", flag.ContinueOnError)
	registry := fs.String("registry", "", "registry host:port (plain HTTP)")
	from := fs.String("from", "", "source REPOSITORY:TAG")
	to := fs.String("tag-as", "", "new REPOSITORY:TAG")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *registry == "" || *from == "" || *to == "" {
		return errors.New("tag needs --registry, --from and --tag-as")
	}
	src, err := name.NewTag(*registry+"/"+*from, name.Insecure, name.StrictValidation)
	if err != nil {
		return err
	}
	dst, err := name.NewTag(*registry+"/"+*to, name.Insecure, name.StrictValidation)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	desc, err := remote.Get(src, remote.WithContext(ctx))
	if err != nil {
		return err
	}
	if src.Context() == dst.Context() {
		err = remote.Tag(dst, desc, remote.WithContext(ctx))
	} else {
		var img v1.Image
		if img, err = desc.Image(); err == nil {
			err = remote.Write(dst, img, remote.WithContext(ctx))
		}
	}
	if err != nil {
		return fmt.Errorf("tag %s as %s: %w", src, dst, err)
	}
	fmt.Fprintf(out, "%s:%s %s\n", dst.RepositoryStr(), dst.TagStr(), desc.Digest)
	return nil
}
