// Command vap-engine judges objects with the API server's own ValidatingAdmissionPolicy admission plugin.
//
// Usage:
//
//	vap-engine BUNDLE_DIR          JSON lines: one request per stdin line, one answer per stdout line
//	vap-engine cost BUNDLE_DIR     every expression's estimated cost, as one JSON array
//
// The bundle is every *.yaml, *.yml and *.json file under BUNDLE_DIR but kustomization.yaml: its
// ValidatingAdmissionPolicies, ValidatingAdmissionPolicyBindings, ConfigMaps (params) and Namespaces, each defaulted
// and (policies, bindings) validated by the API server's own code (k8s.io/kubernetes v1.37.2); a policy or binding
// the API server would refuse to create is refused with its words, exit status 2.
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
//     auditAnnotations get a budget of their own, matchConditions RuntimeCELCostBudgetMatchConditions.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	args := os.Args[1:]
	if len(args) == 2 && args[0] == "cost" {
		b, err := loadBundle(args[1])
		if err != nil {
			fail(err)
		}
		rows, err := estimateCosts(b)
		if err != nil {
			fail(err)
		}
		encoded, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			fail(err)
		}
		fmt.Println(string(encoded))
		return
	}
	fmt.Fprintln(os.Stderr, "usage: vap-engine cost BUNDLE_DIR (see the source)")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "vap-engine: %v\n", err)
	os.Exit(2)
}
