// Command psa-oracle evaluates Kubernetes objects with the upstream Pod Security
// Admission policy package, so that pssgen's own engines can be compared with it.
//
// Protocol (JSON lines, one answer per input line, in order):
//
//	in:  {"id": <any JSON>, "object": {...}, "level": "restricted", "version": "v1.37"}
//	out: {"id": ..., "allowed": true|false, "violations": [{"check": "...", "reason": "...", "detail": "..."}, ...]}
//	 or: {"id": ..., "error": "..."}
//
// Violations come in PSA's check order. The pod is taken from the object the
// way PSA's admission takes it (Pods directly, workloads through their pod
// template), after the API defaulting pssgen assumes for offline manifests.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	k8sjson "sigs.k8s.io/json"
)

type violation struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

type verdict struct {
	ID         json.RawMessage `json:"id"`
	Allowed    bool            `json:"allowed"`
	Violations []violation     `json:"violations"`
}

type failure struct {
	ID    json.RawMessage `json:"id"`
	Error string          `json:"error"`
}

// oracle evaluates pods with PSA's own evaluator. PSA's CheckResult carries no
// check ID, so every check function is wrapped to record its ID when the
// evaluator calls it: the evaluator still decides which checks run and in what
// order, and the recorded IDs line up one to one with the returned results.
type oracle struct {
	recording policy.Evaluator
	plain     policy.Evaluator
	called    []policy.CheckID
}

func newOracle() (*oracle, error) {
	o := &oracle{}
	checks := policy.DefaultChecks()
	for i := range checks {
		id := checks[i].ID
		versions := make([]policy.VersionedCheck, len(checks[i].Versions))
		for j, vc := range checks[i].Versions {
			inner := vc.CheckPod
			vc.CheckPod = func(meta *metav1.ObjectMeta, spec *corev1.PodSpec) policy.CheckResult {
				o.called = append(o.called, id)
				return inner(meta, spec)
			}
			versions[j] = vc
		}
		checks[i].Versions = versions
	}
	recording, err := policy.NewEvaluator(checks, nil)
	if err != nil {
		return nil, fmt.Errorf("building the recording evaluator: %w", err)
	}
	plain, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, fmt.Errorf("building the default evaluator: %w", err)
	}
	o.recording, o.plain = recording, plain
	return o, nil
}

// evaluate returns the failed checks in PSA's order. The unwrapped default
// evaluator runs too, and any difference from it is an error, so what is
// reported is exactly what PSA's EvaluatePod returns.
func (o *oracle) evaluate(lv api.LevelVersion, meta *metav1.ObjectMeta, spec *corev1.PodSpec) ([]violation, error) {
	o.called = o.called[:0]
	results := o.recording.EvaluatePod(lv, meta, spec)
	if len(o.called) != len(results) {
		return nil, fmt.Errorf("internal: %d check calls recorded for %d results", len(o.called), len(results))
	}
	if expected := o.plain.EvaluatePod(lv, meta, spec); !reflect.DeepEqual(results, expected) {
		return nil, fmt.Errorf("internal: the recording evaluator disagrees with policy.DefaultChecks()")
	}
	violations := []violation{}
	for i, r := range results {
		if !r.Allowed {
			violations = append(violations, violation{string(o.called[i]), r.ForbiddenReason, r.ForbiddenDetail})
		}
	}
	return violations, nil
}

// decodeStrict is the API server's JSON decoding: case-sensitive field names,
// type errors are errors, unknown fields are dropped.
func decodeStrict(data []byte, into any) error {
	return k8sjson.UnmarshalCaseSensitivePreserveInts(data, into)
}

var errNoTemplate = errors.New("no pod template")

// podOf decodes the object by kind and returns the metadata and spec PSA
// evaluates, like admission's DefaultPodSpecExtractor.
func podOf(raw json.RawMessage) (*metav1.ObjectMeta, *corev1.PodSpec, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil, errors.New("missing object")
	}
	var head struct {
		Kind string `json:"kind"`
	}
	if err := decodeStrict(raw, &head); err != nil {
		return nil, nil, fmt.Errorf("decoding object: %w", err)
	}
	fromTemplate := func(t *corev1.PodTemplateSpec) (*metav1.ObjectMeta, *corev1.PodSpec, error) {
		if t == nil {
			return nil, nil, errNoTemplate
		}
		return &t.ObjectMeta, &t.Spec, nil
	}
	decode := func(into any) error {
		if err := decodeStrict(raw, into); err != nil {
			return fmt.Errorf("decoding %s: %w", head.Kind, err)
		}
		return nil
	}
	switch head.Kind {
	case "Pod":
		var o corev1.Pod
		if err := decode(&o); err != nil {
			return nil, nil, err
		}
		defaultHostPorts(&o.Spec)
		return &o.ObjectMeta, &o.Spec, nil
	case "PodTemplate":
		var o corev1.PodTemplate
		if err := decode(&o); err != nil {
			return nil, nil, err
		}
		return fromTemplate(&o.Template)
	case "ReplicationController":
		var o corev1.ReplicationController
		if err := decode(&o); err != nil {
			return nil, nil, err
		}
		return fromTemplate(o.Spec.Template)
	case "ReplicaSet":
		var o appsv1.ReplicaSet
		if err := decode(&o); err != nil {
			return nil, nil, err
		}
		return fromTemplate(&o.Spec.Template)
	case "Deployment":
		var o appsv1.Deployment
		if err := decode(&o); err != nil {
			return nil, nil, err
		}
		return fromTemplate(&o.Spec.Template)
	case "StatefulSet":
		var o appsv1.StatefulSet
		if err := decode(&o); err != nil {
			return nil, nil, err
		}
		return fromTemplate(&o.Spec.Template)
	case "DaemonSet":
		var o appsv1.DaemonSet
		if err := decode(&o); err != nil {
			return nil, nil, err
		}
		return fromTemplate(&o.Spec.Template)
	case "Job":
		var o batchv1.Job
		if err := decode(&o); err != nil {
			return nil, nil, err
		}
		return fromTemplate(&o.Spec.Template)
	case "CronJob":
		var o batchv1.CronJob
		if err := decode(&o); err != nil {
			return nil, nil, err
		}
		return fromTemplate(&o.Spec.JobTemplate.Spec.Template)
	case "":
		return nil, nil, errors.New("object has no kind")
	default:
		return nil, nil, fmt.Errorf("kind %q is not evaluated by PodSecurity", head.Kind)
	}
}

// defaultHostPorts mirrors the API server's Pod defaulting (not templates):
// with hostNetwork, a port that leaves hostPort unset gets its containerPort.
func defaultHostPorts(spec *corev1.PodSpec) {
	if !spec.HostNetwork {
		return
	}
	for _, containers := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range containers {
			for j := range containers[i].Ports {
				if p := &containers[i].Ports[j]; p.HostPort == 0 {
					p.HostPort = p.ContainerPort
				}
			}
		}
	}
}

// defaultVolumes mirrors SetDefaults_Volume: a volume with no source is an emptyDir.
func defaultVolumes(spec *corev1.PodSpec) {
	for i := range spec.Volumes {
		if reflect.ValueOf(spec.Volumes[i].VolumeSource).IsZero() {
			spec.Volumes[i].EmptyDir = &corev1.EmptyDirVolumeSource{}
		}
	}
}

func stringField(fields map[string]json.RawMessage, name string) (string, error) {
	raw, ok := fields[name]
	if !ok {
		return "", fmt.Errorf("missing %q", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%q must be a string", name)
	}
	return s, nil
}

// answer evaluates one input line; the returned id is echoed even on error when it could be read.
func (o *oracle) answer(line []byte) (json.RawMessage, []violation, error) {
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, nil, errors.New("empty line")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return nil, nil, fmt.Errorf("not a JSON object: %w", err)
	}
	id := fields["id"]
	levelText, err := stringField(fields, "level")
	if err != nil {
		return id, nil, err
	}
	versionText, err := stringField(fields, "version")
	if err != nil {
		return id, nil, err
	}
	level, err := api.ParseLevel(levelText)
	if err != nil {
		return id, nil, fmt.Errorf("level %q: %w", levelText, err)
	}
	version, err := api.ParseVersion(versionText)
	if err != nil {
		return id, nil, fmt.Errorf("version %q: %w", versionText, err)
	}
	meta, spec, err := podOf(fields["object"])
	if err != nil {
		return id, nil, err
	}
	defaultVolumes(spec)
	violations, err := o.evaluate(api.LevelVersion{Level: level, Version: version}, meta, spec)
	return id, violations, err
}

func run(in io.Reader, out io.Writer) error {
	o, err := newOracle()
	if err != nil {
		return err
	}
	reader := bufio.NewReaderSize(in, 1<<20)
	writer := bufio.NewWriterSize(out, 1<<16)
	encoder := json.NewEncoder(writer)
	encoder.SetEscapeHTML(false)
	for {
		line, readErr := reader.ReadBytes('\n')
		if readErr != nil && readErr != io.EOF {
			return readErr
		}
		if len(line) > 0 {
			id, violations, err := o.answer(line)
			if id == nil {
				id = json.RawMessage("null")
			}
			var reply any = verdict{ID: id, Allowed: len(violations) == 0, Violations: violations}
			if err != nil {
				reply = failure{ID: id, Error: err.Error()}
			}
			if err := encoder.Encode(reply); err != nil {
				return err
			}
		}
		// Flush whenever no further input is already buffered, so an interactive
		// caller gets its answer at once while a batch is written in large chunks.
		if readErr == io.EOF || reader.Buffered() == 0 {
			if err := writer.Flush(); err != nil {
				return err
			}
		}
		if readErr == io.EOF {
			return nil
		}
	}
}

// bench measures PSA's own evaluator in process: the first request line on
// stdin is decoded once, then evaluated n times with policy.DefaultChecks(),
// and again n times including the JSON decoding of the object. It prints one
// JSON line of figures, so a benchmark can set them beside pssgen's engines.
func bench(in io.Reader, out io.Writer, n int) error {
	line, err := bufio.NewReaderSize(in, 1<<20).ReadBytes('\n')
	if err != nil && err != io.EOF {
		return err
	}
	var request struct {
		Object  json.RawMessage `json:"object"`
		Level   string          `json:"level"`
		Version string          `json:"version"`
	}
	if err := json.Unmarshal(line, &request); err != nil {
		return fmt.Errorf("bench request: %w", err)
	}
	level, err := api.ParseLevel(request.Level)
	if err != nil {
		return err
	}
	version, err := api.ParseVersion(request.Version)
	if err != nil {
		return err
	}
	lv := api.LevelVersion{Level: level, Version: version}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return err
	}
	meta, spec, err := podOf(request.Object)
	if err != nil {
		return err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		evaluator.EvaluatePod(lv, meta, spec)
	}
	evalOnly := time.Since(start)
	start = time.Now()
	for i := 0; i < n; i++ {
		m, s, err := podOf(request.Object)
		if err != nil {
			return err
		}
		defaultVolumes(s)
		evaluator.EvaluatePod(lv, m, s)
	}
	withDecode := time.Since(start)
	return json.NewEncoder(out).Encode(map[string]float64{
		"pods":                        float64(n),
		"eval_pods_per_second":        float64(n) / evalOnly.Seconds(),
		"decode_eval_pods_per_second": float64(n) / withDecode.Seconds(),
	})
}

func main() {
	benchN := flag.Int("bench", 0, "evaluate the first request on stdin this many times and print throughput")
	flag.Parse()
	if *benchN > 0 {
		if err := bench(os.Stdin, os.Stdout, *benchN); err != nil {
			fmt.Fprintln(os.Stderr, "psa-oracle:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "psa-oracle:", err)
		os.Exit(1)
	}
}
