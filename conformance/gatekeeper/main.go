// Command gatekeeper-engine reviews objects with Gatekeeper's own evaluation, as `gator test` does, without YAML.
//
// pssgen's gatekeeper engine (generator/engines/gatekeeper.py) starts it once and streams JSON lines through it.
// It is the constraint framework's client with Gatekeeper's admission target and the drivers gator registers by
// default (K8sNativeValidation, then Rego), at the versions the pinned Gatekeeper module selects; templates are
// converted by gator's own reader and objects reviewed as gator reviews them (an AugmentedUnstructured with the
// object's namespace, source Original, gator's enforcement point), except that a request's namespace also reaches
// Rego as input.review.namespaceObject, as Gatekeeper's webhook and audit give it. JSON in, JSON out: no character can break a
// run, and nothing is re-read as YAML.
//
// Protocol, one JSON document per line:
//
//	setup (first line)  {"templates": [ConstraintTemplate, ...], "constraints": {"<key>": Constraint, ...}}
//	answer              {"ready": true, "modules": {"<module>": "<version>", ...}}
//	request             {"id": N, "constraint": "<key>", "parameters": {...}, "object": {...},
//	                     "namespace": {...} (optional), "operation": "CREATE" (optional)}
//	answer              {"id": N, "results": [{"msg", "details", "enforcementAction", "constraint"}, ...]}
//	                    or {"id": N, "error": "..."} when the framework could not review the object
//
// A request is judged by one Constraint only: the constraint named by its key, with spec.parameters overlaid by
// the request's parameters. Each distinct (key, parameters) gets its own Constraint, and its own framework
// client, created when first seen, so a review matches exactly one Constraint (Gatekeeper's matcher decodes the
// object once per Constraint it tries). The clients share one Rego driver, which compiles each template once.
// Requests are reviewed concurrently; answers come back in request order. A setup that fails is reported on
// stderr with exit status 2; the process ends when stdin closes.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/frameworks/constraint/pkg/apis"
	constraintclient "github.com/open-policy-agent/frameworks/constraint/pkg/client"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers/rego"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/reviews"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/templates"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/drivers/k8scel"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/gator/reader"
	mutationtypes "github.com/open-policy-agent/gatekeeper/v3/pkg/mutation/types"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/target"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/util"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
)

// sharedRego is the Rego driver every client uses: a template already compiled is not compiled again.
// Constraints and their parameters live in the driver's storage under their (unique) names, and a query
// evaluates only the constraints it is given, so sharing changes no answer.
type sharedRego struct {
	*rego.Driver
	mu    sync.Mutex
	added map[string]*templates.ConstraintTemplate
}

func (d *sharedRego) AddTemplate(ctx context.Context, templ *templates.ConstraintTemplate) error {
	kind := templ.Spec.CRD.Spec.Names.Kind
	d.mu.Lock()
	defer d.mu.Unlock()
	if known, ok := d.added[kind]; ok && known.SemanticEqual(templ) {
		return nil
	}
	if err := d.Driver.AddTemplate(ctx, templ); err != nil {
		return err
	}
	d.added[kind] = templ.DeepCopy()
	return nil
}

func (d *sharedRego) RemoveTemplate(ctx context.Context, templ *templates.ConstraintTemplate) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.added, templ.Spec.CRD.Spec.Names.Kind)
	return d.Driver.RemoveTemplate(ctx, templ)
}

type setup struct {
	Templates   []map[string]interface{}          `json:"templates"`
	Constraints map[string]map[string]interface{} `json:"constraints"`
}

type request struct {
	ID         *int64          `json:"id"`
	Constraint string          `json:"constraint"`
	Parameters json.RawMessage `json:"parameters"`
	Object     json.RawMessage `json:"object"`
	Namespace  json.RawMessage `json:"namespace"`
	Operation  string          `json:"operation"`
}

type result struct {
	Msg               string      `json:"msg"`
	Details           interface{} `json:"details"`
	EnforcementAction string      `json:"enforcementAction"`
	Constraint        string      `json:"constraint"`
}

type answer struct {
	ID      int64     `json:"id"`
	Results *[]result `json:"results,omitempty"`
	Error   string    `json:"error,omitempty"`
}

type engine struct {
	templates map[string]*templates.ConstraintTemplate // by the Constraint kind each one creates
	bases     map[string]*unstructured.Unstructured    // the Constraints requests name, by key
	cel       *k8scel.Driver
	rego      *sharedRego

	mu      sync.Mutex
	clients map[string]*lazyClient // by key and parameters, canonical (sorted keys)
	byText  map[string]*lazyClient // by key and parameters as the request wrote them: no decoding per request
}

type lazyClient struct {
	once       sync.Once
	parameters map[string]interface{}
	client     *constraintclient.Client
	constraint string
	err        error
}

func newEngine(s setup) (*engine, error) {
	scheme := k8sruntime.NewScheme()
	if err := apis.AddToScheme(scheme); err != nil {
		return nil, err
	}
	e := &engine{
		templates: map[string]*templates.ConstraintTemplate{},
		bases:     map[string]*unstructured.Unstructured{},
		clients:   map[string]*lazyClient{},
		byText:    map[string]*lazyClient{},
	}
	for i, object := range s.Templates {
		u := &unstructured.Unstructured{Object: object}
		if !reader.IsTemplate(u) {
			return nil, fmt.Errorf("templates[%d] (%s %q) is not a ConstraintTemplate", i, u.GetKind(), u.GetName())
		}
		templ, err := reader.ToTemplate(scheme, u)
		if err != nil {
			return nil, fmt.Errorf("converting template %q: %w", u.GetName(), err)
		}
		e.templates[strings.ToLower(templ.Spec.CRD.Spec.Names.Kind)] = templ
	}
	if len(s.Constraints) == 0 {
		return nil, errors.New("the setup names no constraints")
	}
	for key, object := range s.Constraints {
		u := &unstructured.Unstructured{Object: object}
		if !reader.IsConstraint(u) {
			return nil, fmt.Errorf("constraints[%q] (%s %q) is not a Constraint", key, u.GetAPIVersion(), u.GetKind())
		}
		if e.templates[strings.ToLower(u.GetKind())] == nil {
			return nil, fmt.Errorf("constraints[%q]: no template creates kind %s", key, u.GetKind())
		}
		e.bases[key] = u
	}
	// gator's drivers, in gator's order: K8sNativeValidation (enabled by default), then Rego.
	cel, err := k8scel.New()
	if err != nil {
		return nil, fmt.Errorf("creating the K8sNativeValidation driver: %w", err)
	}
	driver, err := rego.New()
	if err != nil {
		return nil, fmt.Errorf("creating the Rego driver: %w", err)
	}
	e.cel = cel
	e.rego = &sharedRego{Driver: driver, added: map[string]*templates.ConstraintTemplate{}}
	// Every base Constraint as given, so that a bad template or Constraint fails the setup, not the first object.
	for _, key := range sortedKeys(e.bases) {
		if _, _, err := e.client(key, nil); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// client is the framework client holding the one Constraint for (key, parameters), created on first use.
func (e *engine) client(key string, parameters json.RawMessage) (*constraintclient.Client, string, error) {
	text := key + "\x00" + string(parameters)
	e.mu.Lock()
	lazy := e.byText[text]
	e.mu.Unlock()
	if lazy == nil {
		var err error
		if lazy, err = e.lazyClient(key, parameters); err != nil {
			return nil, "", err
		}
		e.mu.Lock()
		e.byText[text] = lazy
		e.mu.Unlock()
	}
	lazy.once.Do(func() { lazy.client, lazy.err = e.newClient(e.bases[key], lazy.constraint, lazy.parameters) })
	return lazy.client, lazy.constraint, lazy.err
}

func (e *engine) lazyClient(key string, text json.RawMessage) (*lazyClient, error) {
	base, ok := e.bases[key]
	if !ok {
		return nil, fmt.Errorf("no constraint %q in the setup (have %s)", key, strings.Join(sortedKeys(e.bases), ", "))
	}
	var parameters map[string]interface{}
	if len(text) > 0 {
		if err := json.Unmarshal(text, &parameters); err != nil {
			return nil, fmt.Errorf("parameters: %w", err)
		}
	}
	canonical, err := json.Marshal(parameters) // map keys sorted: one identity per set of parameters
	if err != nil {
		return nil, fmt.Errorf("parameters: %w", err)
	}
	identity := key + "\x00" + string(canonical)
	e.mu.Lock()
	defer e.mu.Unlock()
	lazy, ok := e.clients[identity]
	if !ok {
		lazy = &lazyClient{parameters: parameters, constraint: fmt.Sprintf("%s-%d", base.GetName(), len(e.clients))}
		e.clients[identity] = lazy
	}
	return lazy, nil
}

func (e *engine) newClient(base *unstructured.Unstructured, name string, parameters map[string]interface{}) (*constraintclient.Client, error) {
	constraint := base.DeepCopy()
	constraint.SetName(name)
	if len(parameters) > 0 {
		merged, _, err := unstructured.NestedMap(constraint.Object, "spec", "parameters")
		if err != nil {
			return nil, fmt.Errorf("constraint %q: spec.parameters: %w", base.GetName(), err)
		}
		if merged == nil {
			merged = map[string]interface{}{}
		}
		for k, v := range parameters {
			merged[k] = k8sruntime.DeepCopyJSONValue(v)
		}
		if err := unstructured.SetNestedMap(constraint.Object, merged, "spec", "parameters"); err != nil {
			return nil, fmt.Errorf("constraint %q: spec.parameters: %w", base.GetName(), err)
		}
	}
	client, err := constraintclient.NewClient(
		constraintclient.Targets(&target.K8sValidationTarget{}),
		constraintclient.Driver(e.cel),
		constraintclient.Driver(e.rego),
		constraintclient.EnforcementPoints(util.GatorEnforcementPoint),
	)
	if err != nil {
		return nil, fmt.Errorf("creating the constraint framework client: %w", err)
	}
	ctx := context.Background()
	templ := e.templates[strings.ToLower(constraint.GetKind())]
	if _, err := client.AddTemplate(ctx, templ); err != nil {
		return nil, fmt.Errorf("adding template %q: %w", templ.GetName(), err)
	}
	if _, err := client.AddConstraint(ctx, constraint); err != nil {
		return nil, fmt.Errorf("adding constraint %q (from %q): %w", name, base.GetName(), err)
	}
	return client, nil
}

// review judges one request line as `gator test` judges an object it read.
func (e *engine) review(line []byte) answer {
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return answer{ID: -1, Error: fmt.Sprintf("request is not JSON: %v", err)}
	}
	if req.ID == nil {
		return answer{ID: -1, Error: "request has no id"}
	}
	fail := func(format string, args ...interface{}) answer {
		return answer{ID: *req.ID, Error: fmt.Sprintf(format, args...)}
	}
	if len(req.Object) == 0 {
		return fail("request has no object")
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(req.Object); err != nil {
		return fail("object: %v", err)
	}
	var ns *corev1.Namespace
	if len(req.Namespace) > 0 && string(req.Namespace) != "null" {
		ns = &corev1.Namespace{}
		if err := json.Unmarshal(req.Namespace, ns); err != nil {
			return fail("namespace: %v", err)
		}
	}
	client, _, err := e.client(req.Constraint, req.Parameters)
	if err != nil {
		return fail("%v", err)
	}
	augmented := target.AugmentedUnstructured{
		Object:    *obj,
		Namespace: ns,
		Source:    mutationtypes.SourceTypeOriginal,
		Operation: admissionv1.Operation(req.Operation),
	}
	opts := []reviews.ReviewOpt{reviews.EnforcementPoint(util.GatorEnforcementPoint)}
	if ns != nil {
		// input.review.namespaceObject, as Gatekeeper's webhook and audit give it (gator gives none).
		nsMap, err := util.NamespaceToMap(ns)
		if err != nil {
			return fail("namespace: %v", err)
		}
		opts = append(opts, reviews.Namespace(nsMap))
	}
	responses, err := client.Review(context.Background(), augmented, opts...)
	if err != nil {
		return fail("reviewing %v %s/%s: %v", obj.GroupVersionKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	results := []result{}
	for _, name := range sortedKeys(responses.ByTarget) {
		for _, r := range responses.ByTarget[name].Results {
			var constraint string
			if r.Constraint != nil {
				constraint = r.Constraint.GetName()
			}
			results = append(results, result{
				Msg: r.Msg, Details: r.Metadata["details"], EnforcementAction: r.EnforcementAction, Constraint: constraint,
			})
		}
	}
	return answer{ID: *req.ID, Results: &results}
}

func modules() map[string]string {
	found := map[string]string{}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return found
	}
	for _, dep := range info.Deps {
		switch dep.Path {
		case "github.com/open-policy-agent/gatekeeper/v3", "github.com/open-policy-agent/frameworks/constraint",
			"github.com/open-policy-agent/opa":
			found[dep.Path] = dep.Version
		}
	}
	return found
}

func readLine(in *bufio.Reader) ([]byte, error) {
	line, err := in.ReadBytes('\n')
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	return line, err
}

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: gatekeeper-engine < setup and requests as JSON lines (see the source)")
		os.Exit(2)
	}
	if os.Getenv("GOGC") == "" {
		// Many short-lived values per review over a ~100 MB heap of compiled templates: collecting half as often
		// costs a fifth less CPU for about 50 MB more memory.
		debug.SetGCPercent(200)
	}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	first, err := readLine(in)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gatekeeper-engine: no setup line on stdin: %v\n", err)
		os.Exit(2)
	}
	var s setup
	if err := json.Unmarshal(first, &s); err != nil {
		fmt.Fprintf(os.Stderr, "gatekeeper-engine: the setup line is not JSON: %v\n", err)
		os.Exit(2)
	}
	e, err := newEngine(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gatekeeper-engine: setup: %v\n", err)
		os.Exit(2)
	}
	write(out, map[string]interface{}{"ready": true, "modules": modules()})
	if err := out.Flush(); err != nil {
		os.Exit(1)
	}

	// Reviews run on every CPU; `order` keeps the answers in request order.
	workers := runtime.GOMAXPROCS(0)
	type job struct {
		line []byte
		done chan answer
	}
	jobs := make(chan job, 4*workers)
	order := make(chan chan answer, 1024)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.done <- e.review(j.line)
			}
		}()
	}
	go func() {
		for {
			line, err := readLine(in)
			if len(bytes.TrimSpace(line)) > 0 {
				done := make(chan answer, 1)
				order <- done
				jobs <- job{line, done}
			}
			if err != nil {
				if err != io.EOF {
					fmt.Fprintf(os.Stderr, "gatekeeper-engine: reading stdin: %v\n", err)
				}
				break
			}
		}
		close(jobs)
		close(order)
	}()
	for done := range order {
		write(out, <-done)
		if len(order) == 0 { // nothing more ready: let the reader see what we have
			if err := out.Flush(); err != nil {
				os.Exit(1)
			}
		}
	}
	wg.Wait()
	if err := out.Flush(); err != nil {
		os.Exit(1)
	}
}

func write(out *bufio.Writer, value interface{}) {
	encoded, err := json.Marshal(value)
	if err != nil { // details are JSON values the framework decoded: this does not happen
		encoded, _ = json.Marshal(map[string]string{"error": fmt.Sprintf("encoding an answer: %v", err)})
	}
	out.Write(encoded)
	out.WriteByte('\n')
}
