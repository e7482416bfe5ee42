package main

import (
	"archive/tar"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The same binary must give the same digests: a rebuilt cluster then finds
// its images unchanged.
func TestImagesAreReproducible(t *testing.T) {
	digests := func() map[string]string {
		layer, err := binaryLayer([]byte("not really a binary"))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, s := range images {
			img, err := buildImage(layer, s)
			if err != nil {
				t.Fatal(err)
			}
			d, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			out[s.tag] = d.String()
		}
		return out
	}
	first, second := digests(), digests()
	for tag, d := range first {
		if second[tag] != d {
			t.Errorf("%s: %s then %s", tag, d, second[tag])
		}
	}
	if len(first) != len(images) {
		t.Errorf("digests not distinct: %v", first)
	}
}

func TestImageConfigAndLayer(t *testing.T) {
	layer, err := binaryLayer([]byte("#!bin"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := buildImage(layer, serveSpec("v2"))
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if cfg.OS != "linux" || cfg.Architecture != "amd64" || c.Entrypoint[0] != "/testapp" || c.Cmd[0] != "serve" ||
		c.Env[0] != "VERSION=v2" || len(c.ExposedPorts) != 1 || len(cfg.RootFS.DiffIDs) != 1 {
		t.Errorf("config %+v", cfg)
	}
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "testapp" && (h.Mode != 0o755 || h.Uid != 0 || !h.ModTime.Equal(epoch)) {
			t.Errorf("testapp entry %+v", h)
		}
	}
	if len(names) != 3 || names[2] != "testapp" {
		t.Errorf("layer holds %v", names)
	}
}

func TestSelectSpecs(t *testing.T) {
	testapp, pause := "openrollout/testapp", "openrollout/pause"
	repos := map[string]*string{"testapp": &testapp, "pause": &pause}
	cases := map[string][]string{
		"":                            {"v1", "v2", "v3", "broken", "3.10"},
		"v2":                          {"v2"},
		"openrollout/testapp:v3,3.10": {"v3", "3.10"},
		"v7":                          {"v7"},
	}
	for only, want := range cases {
		got, err := selectSpecs(only, repos)
		if err != nil || len(got) != len(want) {
			t.Fatalf("%q: %v %v", only, got, err)
		}
		for i := range want {
			if got[i].tag != want[i] {
				t.Errorf("%q: %v", only, got)
			}
		}
	}
	if _, err := selectSpecs("latest", repos); err == nil {
		t.Error("--only latest: want an error")
	}
}
