package boundedio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadAll(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		limit   int64
		wantErr error
	}{
		{name: "empty", size: 0, limit: 10},
		{name: "under the limit", size: 100, limit: 1000},
		{name: "at the limit", size: 1000, limit: 1000},
		{name: "over the limit", size: 1001, limit: 1000, wantErr: ErrTooLarge},
		{name: "larger than the pipe hint", size: pipeHint*2 + 7, limit: 1 << 20},
	}
	for _, tt := range tests {
		data := bytes.Repeat([]byte("x"), tt.size)
		t.Run(tt.name+"/file", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			checkRead(t, f, tt.limit, data, tt.wantErr)
		})
		t.Run(tt.name+"/pipe", func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			go func() {
				w.Write(data)
				w.Close()
			}()
			checkRead(t, r, tt.limit, data, tt.wantErr)
		})
		t.Run(tt.name+"/reader", func(t *testing.T) {
			checkRead(t, strings.NewReader(string(data)), tt.limit, data, tt.wantErr)
		})
	}
}

func checkRead(t *testing.T, r interface{ Read([]byte) (int, error) }, limit int64, want []byte, wantErr error) {
	t.Helper()
	got, err := ReadAll(r, limit)
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("err = %v, want %v", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want %d", len(got), len(want))
	}
}
