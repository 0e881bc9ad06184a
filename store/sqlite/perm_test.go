package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A new database and its -wal and -shm files are readable by their owner
// only, whatever the umask: they hold message text and webhook secrets.
// Not parallel: the umask is the process's.
func TestNewFilesArePrivate(t *testing.T) {
	for _, umask := range []int{0, 0o022, 0o277} {
		t.Run(fmt.Sprintf("umask %03o", umask), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "chathook.db")
			old := syscall.Umask(umask)
			st := open(t, path)
			syscall.Umask(old)
			// A write, so that the -wal file holds something and both are in use.
			if _, err := st.ExecForTest(context.Background(), "CREATE TABLE marker (x)"); err != nil {
				t.Fatal(err)
			}
			wantModes(t, path, 0o600)
		})
	}
}

// An existing database keeps the mode its operator gave it, and SQLite
// gives the -wal and -shm files the same.
func TestExistingFileKeepsItsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chathook.db")
	open(t, path).Close()
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	st := open(t, path)
	if _, err := st.ExecForTest(context.Background(), "CREATE TABLE marker (x)"); err != nil {
		t.Fatal(err)
	}
	wantModes(t, path, 0o640)
}

// wantModes checks the permissions of a database and its -wal and -shm.
func wantModes(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != want {
			t.Errorf("%s has mode %v, want %v", filepath.Base(name), mode, want)
		}
	}
}
