// Command vap-engine judges objects with the API server's own ValidatingAdmissionPolicy admission plugin.
//
// Usage:
//
//	vap-engine BUNDLE_DIR          JSON lines: one request per stdin line, one answer per stdout line
//	vap-engine -                   the same, the bundle given first: {"files": {"<name>": "<YAML text>", ...}}
//	vap-engine cost BUNDLE_DIR     every expression's estimated cost, as one JSON array
//
// The bundle is every *.yaml, *.yml and *.json file under BUNDLE_DIR but kustomization.yaml: its
// ValidatingAdmissionPolicies, ValidatingAdmissionPolicyBindings, ConfigMaps (params) and Namespaces, each defaulted
// and (policies, bindings) validated by the API server's own code (k8s.io/kubernetes v1.37.2); a policy or binding
// the API server would refuse to create is refused with its words, exit status 2.
//
// Protocol of the first form, one JSON document per line (answers in request order):
//
//	request  {"id": any JSON value, "operation": "CREATE" (default) | "UPDATE" | "DELETE", "subresource": "",
//	          "object": {...}, "oldObject": {...} (UPDATE, DELETE), "namespace": Namespace (optional),
//	          "userInfo": {"username", "groups"}, "dryRun": true (default), "cost": false (default)}
//	answer   {"id", "allowed", "status": {"code", "reason", "message"} (when denied), "warnings": [...],
//	          "annotations": {key: value}, "cost": [...] (when asked)}
//	         or {"id", "error"} when the line is not a request the API server could receive
//
// The object is one of the kinds PSA judges (Pod, ReplicationController, PodTemplate, ReplicaSet, Deployment,
// StatefulSet, DaemonSet, Job, CronJob, at their v1 versions), which gives the request's kind and resource. It is
// decoded (unknown fields dropped) and defaulted as the API server decodes and defaults it, and given the request's
// namespace: the Namespace's name, else the object's, else "default". The Namespace, defaulted too (so it has
// kubernetes.io/metadata.name), is what namespaceObject and namespaceSelector see for this request; without one,
// the bundle's Namespace of that name, else none, as for a namespace the API server cannot find. The status is
// the plugin's error as the API server turns it into a Status (responsewriters.ErrorToAPIStatus); the warnings
// went through the API server's warning recorder (deduplicated, truncated at its limits); the annotations are the
// audit annotations the plugin added. The request is judged by the ValidatingAdmissionPolicy plugin alone: no other
// admission plugin (no mutation, no NamespaceLifecycle) runs first.
//
// Costs. CEL cost is an abstract unit (about one per operation; walking a list of n costs n). Three figures:
//
//   - estimated (cost subcommand): for each expression, the [min, max] cel-go's checker estimates with the API
//     server's cost model (library.CostEstimator) in the environment the API server compiles a new policy's
//     expressions in (environment.NewExpressions at DefaultCompatibilityVersion, v1.36 for a v1.37 binary).
//     "limit" is celconfig.PerCallLimit and "over" says max > limit. The API server v1.37.2 does NOT enforce this
//     figure for ValidatingAdmissionPolicies (CRD validation rules are where it rejects by estimate): object and
//     params are dyn, so any walk over a list has an unbounded max. It says which expressions are bounded only
//     by the runtime limits below. A variable is its own row: an expression that reads variables.x is charged
//     only the field selection for it (variables are evaluated lazily, once per evaluation, and charged then).
//   - per-call limit (runtime): celconfig.PerCallLimit (1,000,000) per evaluation of one expression, a program
//     option of every VAP program; past it the expression fails ("operation cancelled: actual cost limit
//     exceeded") and failurePolicy decides.
//   - runtime budget: celconfig.RuntimeCELCostBudget (10,000,000) per policy-binding-param evaluation, shared by
//     the validations (and the variables they evaluate), then the messageExpressions with what is left; the
//     auditAnnotations get a budget of their own, matchConditions RuntimeCELCostBudgetMatchConditions. A request
//     with "cost": true (or `cost BUNDLE_DIR --object FILE [--namespace FILE] ...`) gets, for each
//     policy-binding-param it matches, what each phase spent and what each expression costs alone (with the
//     variables it reads). The plugin does not report costs, so they are measured by a second evaluation with the
//     same public CEL filters (k8s.io/apiserver/pkg/admission/plugin/cel), compiled and fed as its validator
//     compiles and feeds them, on the same matcher, params and Namespace.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/klog/v2"
)

func main() {
	// klog would print the plugin's informational lines (informers started) on stderr: keep it for errors.
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("logtostderr", "false")
	_ = klogFlags.Set("stderrthreshold", "ERROR")
	klog.SetOutput(io.Discard)
	args := os.Args[1:]
	switch {
	case len(args) >= 2 && args[0] == "cost":
		cost(args[1], args[2:])
	case len(args) == 1 && args[0] != "-h" && args[0] != "--help":
		serve(args[0])
	default:
		fmt.Fprintln(os.Stderr, "usage: vap-engine BUNDLE_DIR < requests | vap-engine cost BUNDLE_DIR [--object FILE ...] (see the source)")
		os.Exit(2)
	}
}

// cost prints the estimated cost of every expression of the bundle's policies, or, given an object, the answer to
// that one request with its runtime costs.
func cost(dir string, args []string) {
	flags := flag.NewFlagSet("cost", flag.ExitOnError)
	object := flags.String("object", "", "YAML or JSON file: the request's object (then the runtime cost is printed)")
	oldObject := flags.String("old-object", "", "YAML or JSON file: the request's oldObject (UPDATE)")
	namespace := flags.String("namespace", "", "YAML or JSON file: the request's Namespace")
	operation := flags.String("operation", "CREATE", "CREATE, UPDATE or DELETE")
	subresource := flags.String("subresource", "", "e.g. ephemeralcontainers")
	username := flags.String("username", "", "the requesting user")
	_ = flags.Parse(args)
	if flags.NArg() > 0 {
		fail(fmt.Errorf("unexpected arguments %v", flags.Args()))
	}
	b, err := loadBundle(dir)
	if err != nil {
		fail(err)
	}
	var result interface{}
	if *object == "" {
		if *oldObject != "" || *namespace != "" {
			fail(fmt.Errorf("--old-object and --namespace go with --object"))
		}
		if result, err = estimateCosts(b); err != nil {
			fail(err)
		}
	} else {
		e, err := newEngine(b)
		if err != nil {
			fail(err)
		}
		req := map[string]interface{}{
			"id": 0, "operation": *operation, "subresource": *subresource, "cost": true,
			"userInfo": map[string]interface{}{"username": *username},
		}
		for field, path := range map[string]string{"object": *object, "oldObject": *oldObject, "namespace": *namespace} {
			if path == "" {
				continue
			}
			content, err := os.ReadFile(path)
			if err != nil {
				fail(err)
			}
			if req[field], err = utilyaml.ToJSON(content); err != nil {
				fail(fmt.Errorf("%s: %w", path, err))
			}
			req[field] = json.RawMessage(req[field].([]byte))
		}
		line, err := json.Marshal(req)
		if err != nil {
			fail(err)
		}
		a := e.judge(line)
		if a.Error != "" {
			fail(fmt.Errorf("%s", a.Error))
		}
		result = a
	}
	encoded, err := json.MarshalIndent(result, "", "  ")
	if err != nil {
		fail(err)
	}
	fmt.Println(string(encoded))
}

// serve answers request lines until stdin closes. Requests are judged concurrently, on every CPU; answers come
// back in request order.
func serve(dir string) {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	var b *bundle
	var err error
	if dir == "-" {
		// The bundle on the first line, so a caller rendering it in memory need write no file.
		var setup struct {
			Files map[string]string `json:"files"`
		}
		first, readErr := in.ReadBytes('\n')
		if readErr != nil && readErr != io.EOF {
			fail(fmt.Errorf("reading the bundle line: %w", readErr))
		}
		if err := json.Unmarshal(first, &setup); err != nil {
			fail(fmt.Errorf("the bundle line is not JSON: %w", err))
		}
		b, err = loadBundleFiles(setup.Files)
	} else {
		b, err = loadBundle(dir)
	}
	if err != nil {
		fail(err)
	}
	e, err := newEngine(b)
	if err != nil {
		fail(err)
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
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
				j.done <- e.judge(j.line)
			}
		}()
	}
	go func() {
		for {
			line, err := in.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				done := make(chan answer, 1)
				order <- done
				jobs <- job{line, done}
			}
			if err != nil {
				if err != io.EOF {
					fmt.Fprintf(os.Stderr, "vap-engine: reading stdin: %v\n", err)
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

func write(out *bufio.Writer, value answer) {
	var encoded []byte
	var err error
	if value.Error != "" {
		encoded, err = json.Marshal(map[string]interface{}{"id": value.ID, "error": value.Error})
	} else {
		encoded, err = json.Marshal(value)
	}
	if err != nil { // every field is a string, a number or a map of strings: this does not happen
		encoded, _ = json.Marshal(map[string]interface{}{"id": value.ID, "error": fmt.Sprintf("encoding an answer: %v", err)})
	}
	out.Write(encoded)
	out.WriteByte('\n')
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "vap-engine: %v\n", err)
	os.Exit(2)
}
