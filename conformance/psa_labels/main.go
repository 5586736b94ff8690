// Command psa-labels answers, for each JSON value {"labels": {...} | null, "defaults": {mode: {level, version}}}
// on stdin, what upstream's api.PolicyToEvaluate resolves: each mode's level and version as PSA prints them, and
// its field errors' text, one JSON line each.
//
// It has no go.mod of its own: tests/test_rego_admission.py builds it with conformance/oracle's go.mod and go.sum,
// so it runs exactly the PSA module the oracle pins.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/pod-security-admission/api"
)

type levelVersion struct {
	Level   string `json:"level"`
	Version string `json:"version"`
}

type request struct {
	Labels   map[string]string       `json:"labels"`
	Defaults map[string]levelVersion `json:"defaults"`
}

type answer struct {
	Enforce levelVersion `json:"enforce"`
	Audit   levelVersion `json:"audit"`
	Warn    levelVersion `json:"warn"`
	Errors  []string     `json:"errors"`
}

func parse(lv levelVersion) (api.LevelVersion, error) {
	level, err := api.ParseLevel(lv.Level)
	if err != nil {
		return api.LevelVersion{}, err
	}
	version, err := api.ParseVersion(lv.Version)
	if err != nil {
		return api.LevelVersion{}, err
	}
	return api.LevelVersion{Level: level, Version: version}, nil
}

func show(lv api.LevelVersion) levelVersion {
	return levelVersion{string(lv.Level), lv.Version.String()}
}

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	dec := json.NewDecoder(in)
	for dec.More() {
		var r request
		if err := dec.Decode(&r); err != nil {
			fmt.Fprintln(os.Stderr, "psa-labels:", err)
			os.Exit(1)
		}
		var defaults api.Policy
		for mode, into := range map[string]*api.LevelVersion{"enforce": &defaults.Enforce, "audit": &defaults.Audit, "warn": &defaults.Warn} {
			lv, err := parse(r.Defaults[mode])
			if err != nil {
				fmt.Fprintln(os.Stderr, "psa-labels: defaults", mode, err)
				os.Exit(1)
			}
			*into = lv
		}
		policy, errs := api.PolicyToEvaluate(r.Labels, defaults)
		a := answer{show(policy.Enforce), show(policy.Audit), show(policy.Warn), []string{}}
		for _, e := range errs {
			a.Errors = append(a.Errors, e.Error())
		}
		if err := enc.Encode(a); err != nil {
			fmt.Fprintln(os.Stderr, "psa-labels:", err)
			os.Exit(1)
		}
	}
}
