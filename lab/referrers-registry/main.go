// Command referrers-registry serves go-containerregistry's OCI registry (pkg/registry, the
// registry implementation crane and cosign test against) with its OCI 1.1 referrers API turned
// on: GET /v2/<name>/referrers/<digest>. The distribution registry (2.8 and v3) has no referrers
// API, so this is the lab's registry for the referrers path of cosign v3 bundles
// (test/integration/sign-bundle.test.ts). Manifests live in memory, blobs under --disk.
//
//	referrers-registry --address 127.0.0.1:PORT --disk DIR
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	address := flag.String("address", "127.0.0.1:5000", "address to listen on")
	disk := flag.String("disk", "", "directory for blobs (default: in memory)")
	verbose := flag.Bool("verbose", false, "log every request to stderr")
	flag.Parse()

	logger := log.New(io.Discard, "", 0)
	if *verbose {
		logger = log.New(os.Stderr, "", log.LstdFlags)
	}
	options := []registry.Option{registry.WithReferrersSupport(true), registry.Logger(logger)}
	if *disk != "" {
		options = append(options, registry.WithBlobHandler(registry.NewDiskBlobHandler(*disk)))
	}
	listener, err := net.Listen("tcp", *address)
	if err != nil {
		log.Fatal(err)
	}
	server := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: registry.New(options...)}
	log.Fatal(server.Serve(listener))
}
