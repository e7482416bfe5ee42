// The test application that real pods run (serve, crash, hook, pause, load).
// Standard library only, so it builds in seconds and has no go.sum entries.
module openrollout.local/cluster/testapp

go 1.26.0
