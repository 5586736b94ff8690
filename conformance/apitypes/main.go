// Command apitypes describes, and decodes with, the k8s.io/api types the API
// server decodes pssgen's kinds into.
//
//	apitypes types    writes every kind's type tree as JSON (generator/manifests/api_types.json)
//	apitypes decode   reads JSON objects, one a line, and writes the decoder's verdict for each
//
// The types are walked by reflection with encoding/json's field rules (json
// tags, embedded structs inlined, the shallowest name wins), which
// sigs.k8s.io/json keeps. Types with their own UnmarshalJSON are named, not
// walked; a new one fails the walk, so the Python side never guesses.
package main

import (
	"bufio"
	"encoding"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	k8sjson "sigs.k8s.io/json"
)

// kinds are the objects pssgen evaluates (generator/policy/pod.py), as the
// API server's scheme decodes them at v1.
var kinds = map[string]func() any{
	"Pod":                   func() any { return &corev1.Pod{} },
	"PodTemplate":           func() any { return &corev1.PodTemplate{} },
	"ReplicationController": func() any { return &corev1.ReplicationController{} },
	"ReplicaSet":            func() any { return &appsv1.ReplicaSet{} },
	"Deployment":            func() any { return &appsv1.Deployment{} },
	"StatefulSet":           func() any { return &appsv1.StatefulSet{} },
	"DaemonSet":             func() any { return &appsv1.DaemonSet{} },
	"Job":                   func() any { return &batchv1.Job{} },
	"CronJob":               func() any { return &batchv1.CronJob{} },
}

// special are the types with their own UnmarshalJSON, by the name the data
// gives them; generator/manifests/shape.py implements each one's rule.
var special = map[reflect.Type]string{
	reflect.TypeFor[resource.Quantity]():    "quantity",    // a JSON string or number, ParseQuantity on its raw text
	reflect.TypeFor[intstr.IntOrString]():   "intorstring", // a JSON string, or a number that fits an int32
	reflect.TypeFor[metav1.Time]():          "time",        // a JSON string in time.RFC3339
	reflect.TypeFor[metav1.MicroTime]():     "microtime",   // a JSON string in metav1.RFC3339Micro
	reflect.TypeFor[metav1.Duration]():      "duration",    // a JSON string time.ParseDuration reads
	reflect.TypeFor[metav1.FieldsV1]():      "rawjson",     // any JSON value, kept as raw bytes
	reflect.TypeFor[runtime.RawExtension](): "rawjson",
}

var (
	unmarshaler     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

type walker struct {
	types map[string]map[string]string // struct name -> JSON field name -> type expression
}

// name is a struct's key in the data: the last two elements of its package path and its name.
func name(t reflect.Type) string {
	parts := strings.Split(t.PkgPath(), "/")
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return strings.Join(parts, "/") + "." + t.Name()
}

// expr is the type expression of t: a scalar or special name, "[]E", "map[]E", or a struct's name.
func (w *walker) expr(t reflect.Type) (string, error) {
	if s, ok := special[t]; ok {
		return s, nil
	}
	if reflect.PointerTo(t).Implements(unmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "", fmt.Errorf("%s decodes itself (UnmarshalJSON or UnmarshalText): give it a rule in special and in shape.py", t)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return w.expr(t.Elem())
	case reflect.Bool, reflect.String, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return t.Kind().String(), nil
	case reflect.Int:
		return "int64", nil
	case reflect.Uint:
		return "uint64", nil
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return "", fmt.Errorf("%s: an interface with methods cannot be decoded into", t)
		}
		return "any", nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(unmarshaler) {
			return "bytes", nil // encoding/json: a base64 string (or an array of bytes)
		}
		e, err := w.expr(t.Elem())
		return "[]" + e, err
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return "", fmt.Errorf("%s: only string-keyed maps are described", t)
		}
		e, err := w.expr(t.Elem())
		return "map[]" + e, err
	case reflect.Struct:
		n := name(t)
		if _, seen := w.types[n]; !seen {
			w.types[n] = nil // placeholder: recursion stops here
			fields, err := w.fields(t)
			if err != nil {
				return "", err
			}
			w.types[n] = fields
		}
		return n, nil
	}
	return "", fmt.Errorf("%s: kind %s is not described", t, t.Kind())
}

type field struct {
	name   string
	typ    reflect.Type
	depth  int
	tagged bool
}

// fields resolves a struct's JSON fields as encoding/json's typeFields does.
func (w *walker) fields(t reflect.Type) (map[string]string, error) {
	var all []field
	var visit func(t reflect.Type, depth int, seen map[reflect.Type]bool)
	visit = func(t reflect.Type, depth int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			ft := f.Type
			if f.Anonymous {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if !f.IsExported() && ft.Kind() != reflect.Struct {
					continue
				}
			} else if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			tagName, opts, _ := strings.Cut(tag, ",")
			if strings.Contains(","+opts+",", ",string,") {
				panic(fmt.Sprintf("%s.%s: the ,string option is not described", t, f.Name))
			}
			if tagName == "" && f.Anonymous && ft.Kind() == reflect.Struct {
				if _, ok := special[ft]; !ok {
					visit(ft, depth+1, seen)
					continue
				}
			}
			n := tagName
			if n == "" {
				n = f.Name
			}
			all = append(all, field{n, f.Type, depth, tagName != ""})
		}
	}
	visit(t, 0, map[reflect.Type]bool{})
	byName := map[string][]field{}
	for _, f := range all {
		byName[f.name] = append(byName[f.name], f)
	}
	out := map[string]string{}
	for n, fs := range byName {
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].depth < fs[j].depth })
		top := fs[:1]
		for _, f := range fs[1:] {
			if f.depth == fs[0].depth {
				top = append(top, f)
			}
		}
		var tagged []field
		for _, f := range top {
			if f.tagged {
				tagged = append(tagged, f)
			}
		}
		chosen := top
		if len(top) > 1 && len(tagged) == 1 {
			chosen = tagged
		}
		if len(chosen) != 1 {
			continue // ambiguous: encoding/json drops the name
		}
		e, err := w.expr(chosen[0].typ)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", name(t), n, err)
		}
		out[n] = e
	}
	return out, nil
}

func describe() error {
	w := &walker{types: map[string]map[string]string{}}
	roots := map[string]string{}
	for kind, make := range kinds {
		e, err := w.expr(reflect.TypeOf(make()).Elem())
		if err != nil {
			return err
		}
		roots[kind] = e
	}
	data, err := json.Marshal(map[string]any{ // encoding/json sorts map keys: the output is stable
		"about": "generated by conformance/apitypes (go run . types); do not edit",
		"api":   "k8s.io/api v0.37.2, k8s.io/apimachinery v0.37.2",
		"kinds": roots,
		"types": w.types,
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(os.Stdout, "%s\n", data)
	return err
}

// verdict decodes one object as the API server would receive it from kubectl:
// read as unstructured JSON, encoded again (as kubectl sends it), then decoded
// into its kind's type with the API server's case-sensitive decoder.
func verdict(line []byte) map[string]any {
	var u map[string]any
	if err := utiljson.Unmarshal(line, &u); err != nil {
		return map[string]any{"error": "not a JSON object: " + err.Error()}
	}
	sent, err := json.Marshal(u)
	if err != nil {
		return map[string]any{"error": "cannot encode: " + err.Error()}
	}
	kind, _ := u["kind"].(string)
	make, ok := kinds[kind]
	if !ok {
		return map[string]any{"error": fmt.Sprintf("kind %q is not described", kind)}
	}
	if err := k8sjson.UnmarshalCaseSensitivePreserveInts(sent, make()); err != nil {
		return map[string]any{"error": err.Error()}
	}
	return map[string]any{"ok": true}
}

func decode() error {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		if err := enc.Encode(verdict(in.Bytes())); err != nil {
			return err
		}
	}
	if err := in.Err(); err != nil {
		return err
	}
	return out.Flush()
}

func main() {
	var err error
	switch mode := strings.Join(os.Args[1:], " "); mode {
	case "types":
		err = describe()
	case "decode":
		err = decode()
	default:
		err = fmt.Errorf("usage: apitypes types|decode (got %q)", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "apitypes:", err)
		os.Exit(1)
	}
}
