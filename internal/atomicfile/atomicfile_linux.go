package atomicfile

import (
	"os"
)

func fill(f *os.File, data []byte, mode os.FileMode, uid, gid int, durable bool) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if uid >= 0 {
		if err := f.Chown(uid, gid); err != nil {
			return err
		}
	}
	if !durable {
		return nil
	}
	return f.Sync()
}
