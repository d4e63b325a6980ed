// Command fsutil_peer runs BuildKit's fsutil sender or receiver over stdin/stdout,
// each protobuf Packet framed by a 4-byte big-endian length: the reference peer the
// diff-copy interop tests talk to.
//
// Usage: fsutil_peer send DIR | fsutil_peer receive DIR
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/tonistiigi/fsutil"
	"github.com/tonistiigi/fsutil/types"
)

type stdioStream struct {
	r  *bufio.Reader
	w  *bufio.Writer
	mu sync.Mutex
}

func (s *stdioStream) Context() context.Context { return context.Background() }

func (s *stdioStream) SendMsg(m interface{}) error {
	data, err := m.(*types.Packet).Marshal()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(data)))
	if _, err := s.w.Write(size[:]); err != nil {
		return err
	}
	if _, err := s.w.Write(data); err != nil {
		return err
	}
	return s.w.Flush()
}

func (s *stdioStream) RecvMsg(m interface{}) error {
	var size [4]byte
	if _, err := io.ReadFull(s.r, size[:]); err != nil {
		return err
	}
	data := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(s.r, data); err != nil {
		return err
	}
	return m.(*types.Packet).Unmarshal(data)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: fsutil_peer send|receive DIR")
		os.Exit(2)
	}
	stream := &stdioStream{r: bufio.NewReaderSize(os.Stdin, 1<<16), w: bufio.NewWriterSize(os.Stdout, 1<<16)}
	ctx := context.Background()
	var err error
	switch os.Args[1] {
	case "send":
		err = fsutil.Send(ctx, stream, fsutil.NewFS(os.Args[2], &fsutil.WalkOpt{}), nil)
	case "receive":
		err = fsutil.Receive(ctx, stream, os.Args[2], fsutil.ReceiveOpt{})
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fsutil_peer:", err)
		os.Exit(1)
	}
}
