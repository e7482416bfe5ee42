// Command etcd is upstream etcd's own entry point (server/etcdmain), built
// from the published Go module because the root etcd module cannot be
// installed with `go install` (it carries replace directives).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
