// Command tarsum_peer prints Docker's TarSum (moby pkg/tarsum) of an uncompressed tar
// archive: the reference the TarSum tests compare fscache's answers with, on archives
// made at test time.
//
// Usage: tarsum_peer 0|1|dev ARCHIVE [EXTRA_FILE]
// Prints the label, then "<hex> <name>" per entry, one per line.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/docker/docker/pkg/tarsum"
)

func main() {
	if len(os.Args) < 3 || len(os.Args) > 4 {
		fmt.Fprintln(os.Stderr, "usage: tarsum_peer 0|1|dev ARCHIVE [EXTRA_FILE]")
		os.Exit(2)
	}
	versions := map[string]tarsum.Version{"0": tarsum.Version0, "1": tarsum.Version1, "dev": tarsum.VersionDev}
	version, ok := versions[os.Args[1]]
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown version", os.Args[1])
		os.Exit(2)
	}
	var extra []byte
	if len(os.Args) == 4 {
		var err error
		if extra, err = os.ReadFile(os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	archive, err := os.Open(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer archive.Close()
	ts, err := tarsum.NewTarSum(archive, true, version)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := io.Copy(io.Discard, ts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ts.Sum(extra))
	for _, s := range ts.GetSums() {
		fmt.Printf("%s %s\n", s.Sum(), s.Name())
	}
}
