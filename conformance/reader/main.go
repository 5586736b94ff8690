// Command kubectl-reader reads files exactly as `kubectl apply -f PATH...` does and prints what kubectl would send.
//
// It drives k8s.io/cli-runtime's resource builder the way kubectl apply does (local, unstructured,
// continue on error, filenames, flatten) and writes JSON lines to stdout:
//
//	{"type":"object","source":FILE,"order":N,"object":{...}}   one per object kubectl would send, in its order
//	{"type":"error","source":FILE,"message":"..."}             one per error kubectl would report for FILE
//
//	{"type":"error","source":"","message":"..."}               an error of the whole run (see below)
//
// kubectl reports errors only after it has sent every object it could read, so the builder cannot say
// where an error sits. One builder reads all paths, as kubectl does: its objects and errors are the
// answer. To name the file of each error, every file is also read by a builder of its own (files
// listed as cli-runtime lists them: a directory's entries in lexical order, its subdirectories only
// with -R, walked files by extension, a file named explicitly whatever its name), its objects first
// and then its errors. That split is printed only when it sends exactly the same objects in the same
// order and reports exactly the same errors as the single reading; otherwise (a path that does not
// exist makes kubectl send nothing at all) the single reading is printed, its errors without a source.
//
// Within a file, kubectl's YAMLOrJSONDecoder stops at the first document it cannot parse: the file's
// later documents are never sent. A document that parses but cannot be decoded (no kind, a nested
// List, items that are not objects) is one error, and the documents after it are still sent.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/resource"
)

type line struct {
	Type    string          `json:"type"`
	Source  string          `json:"source"`
	Order   *int            `json:"order,omitempty"`
	Object  json.RawMessage `json:"object,omitempty"`
	Message string          `json:"message,omitempty"`
}

type sent struct {
	source string
	object []byte
}

// read is one kubectl-like reading of paths: what it sends, then what it reports.
func read(paths []string, recursive bool) ([]sent, []string) {
	result := resource.NewLocalBuilder().
		Unstructured().
		ContinueOnError().
		FilenameParam(false, &resource.FilenameOptions{Filenames: paths, Recursive: recursive}).
		Flatten().
		Do()
	var objects []sent
	err := result.Visit(func(info *resource.Info, err error) error {
		if err != nil {
			return err
		}
		raw, err := json.Marshal(info.Object)
		if err != nil {
			return fmt.Errorf("encoding an object of %s: %v", info.Source, err)
		}
		objects = append(objects, sent{info.Source, raw})
		return nil
	})
	return objects, flatten(err)
}

// flatten lists the messages of an error, aggregates (the builder nests them) opened up in order.
func flatten(err error) []string {
	if err == nil {
		return nil
	}
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) {
		var out []string
		for _, e := range agg.Errors() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

// files lists what cli-runtime's ExpandPathsToFileVisitors would visit for one path given on the command line.
func files(root string, recursive bool) []string {
	var found []string
	_ = filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			found = append(found, path) // the builder reports it; reading it alone reports the same
			return nil
		}
		if fi.IsDir() {
			if path != root && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if path != root && !slices.Contains(resource.FileExtensions, filepath.Ext(path)) {
			return nil
		}
		found = append(found, path)
		return nil
	})
	if len(found) == 0 {
		found = append(found, root) // a missing path, or a directory with no manifest: its own error
	}
	return found
}

func main() {
	recursive := flag.Bool("R", false, "walk directories recursively, as kubectl apply -R")
	flag.Parse()
	paths := flag.Args()
	if len(paths) == 0 {
		fmt.Fprintln(os.Stderr, "usage: kubectl-reader [-R] PATH...")
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)

	// What kubectl itself does: one builder over every path. Its objects are the truth.
	gotObjects, gotErrors := read(paths, *recursive)

	var byFile []line
	var wantObjects []sent
	var wantErrors []string
	for _, root := range paths {
		for _, file := range files(root, *recursive) {
			objects, errs := read([]string{file}, *recursive)
			for _, o := range objects {
				byFile = append(byFile, line{Type: "object", Source: o.source, Object: o.object})
			}
			for _, message := range errs {
				byFile = append(byFile, line{Type: "error", Source: file, Message: message})
			}
			wantObjects = append(wantObjects, objects...)
			wantErrors = append(wantErrors, errs...)
		}
	}
	if problem := compare(wantObjects, gotObjects, wantErrors, gotErrors); problem != "" {
		// Not file by file: a path that does not exist, for one, makes kubectl send nothing at all.
		// Then every error is the whole run's (no source), after the objects kubectl still sends.
		byFile = byFile[:0]
		for _, o := range gotObjects {
			byFile = append(byFile, line{Type: "object", Source: o.source, Object: o.object})
		}
		for _, message := range gotErrors {
			byFile = append(byFile, line{Type: "error", Message: message})
		}
	}
	order := 0
	for _, l := range byFile {
		if l.Type == "object" {
			n := order
			l.Order = &n
			order++
		}
		must(enc.Encode(l))
	}
}

// compare says how reading all paths at once differs from reading file by file, or "" when it does not.
func compare(wantObjects, gotObjects []sent, wantErrors, gotErrors []string) string {
	if len(wantObjects) != len(gotObjects) {
		return fmt.Sprintf("file by file %d objects, all at once %d", len(wantObjects), len(gotObjects))
	}
	for i := range wantObjects {
		if wantObjects[i].source != gotObjects[i].source || !bytes.Equal(wantObjects[i].object, gotObjects[i].object) {
			return fmt.Sprintf("object %d differs: %s from %s file by file, %s from %s all at once", i,
				wantObjects[i].object, wantObjects[i].source, gotObjects[i].object, gotObjects[i].source)
		}
	}
	if !slices.Equal(wantErrors, gotErrors) {
		return fmt.Sprintf("errors differ: %q file by file, %q all at once", wantErrors, gotErrors)
	}
	return ""
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubectl-reader:", err)
		os.Exit(1)
	}
}
