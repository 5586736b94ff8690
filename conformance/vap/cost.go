package main

import (
	"fmt"
	"math"

	"github.com/google/cel-go/cel"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/util/version"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"
)

// estimate is one expression's static cost, as cel-go's checker estimates it with the API server's cost model.
type estimate struct {
	Policy     string `json:"policy"`
	Expression string `json:"expression"` // its path in the policy, e.g. spec.validations[0].expression
	Min        uint64 `json:"min"`
	Max        uint64 `json:"max"` // math.MaxUint64 when a list or string it walks has no known bound (object is dyn)
	Limit      int64  `json:"limit"`
	Over       bool   `json:"over"`
	Error      string `json:"error,omitempty"` // the expression does not compile in the creation environment
}

// estimateEnv is a policy's environment for new expressions, as the API server's create validation compiles them
// (k8s.io/kubernetes pkg/apis/admissionregistration/validation: MustBaseEnvSet(DefaultCompatibilityVersion()),
// environment.NewExpressions, a composited compiler when the policy has variables), with the declarations the
// admission CEL compiler adds for each expression kind. The compiler keeps its ASTs to itself, so the same
// declarations are made here on the public EnvSet API to get an AST the estimator can read.
type estimateEnv struct {
	composited *plugincel.CompositedCompiler
	compat     *version.Version
}

func newEstimateEnv(policy *admissionregistrationv1.ValidatingAdmissionPolicy) (*estimateEnv, error) {
	compat := environment.DefaultCompatibilityVersion()
	composited, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(compat))
	if err != nil {
		return nil, err
	}
	variables := make([]plugincel.NamedExpressionAccessor, len(policy.Spec.Variables))
	for i, v := range policy.Spec.Variables {
		variables[i] = &validating.Variable{Name: v.Name, Expression: v.Expression}
	}
	declarations := plugincel.OptionalVariableDeclarations{HasParams: policy.Spec.ParamKind != nil, HasAuthorizer: true}
	composited.CompileAndStoreVariables(variables, declarations, environment.NewExpressions)
	return &estimateEnv{composited: composited, compat: compat}, nil
}

// env is the checker environment for one kind of expression: every kind sees params when the policy has a
// paramKind; all but messageExpressions see the authorizer (as the API server's validation declares them).
func (e *estimateEnv) env(declarations plugincel.OptionalVariableDeclarations) (*cel.Env, error) {
	base, err := e.composited.Env(environment.NewExpressions)
	if err != nil {
		return nil, err
	}
	namespaceType := plugincel.BuildNamespaceType()
	requestType := plugincel.BuildRequestType()
	provider := apiservercel.NewDeclTypeProvider(namespaceType, requestType)
	if e.compat.AtLeast(version.MajorMinor(1, 31)) {
		provider.SetRecognizeKeywordAsFieldName(true)
	}
	providerOptions, err := provider.EnvOptions(base.CELTypeProvider())
	if err != nil {
		return nil, err
	}
	options := append(providerOptions,
		cel.Variable(plugincel.ObjectVarName, cel.DynType),
		cel.Variable(plugincel.OldObjectVarName, cel.DynType),
		cel.Variable(plugincel.NamespaceVarName, namespaceType.CelType()),
		cel.Variable(plugincel.RequestVarName, requestType.CelType()),
	)
	if declarations.HasParams {
		options = append(options, cel.Variable(plugincel.ParamsVarName, cel.DynType))
	}
	if declarations.HasAuthorizer {
		options = append(options,
			cel.Variable(plugincel.AuthorizerVarName, library.AuthorizerType),
			cel.Variable(plugincel.RequestResourceAuthorizerVarName, library.ResourceCheckType))
	}
	return base.Extend(options...)
}

// estimateCosts gives every expression of every policy, in the policy's field order.
func estimateCosts(b *bundle) ([]estimate, error) {
	var out []estimate
	for _, policy := range b.policies {
		e, err := newEstimateEnv(policy)
		if err != nil {
			return nil, fmt.Errorf("policy %q: %w", policy.Name, err)
		}
		hasParams := policy.Spec.ParamKind != nil
		withAuthorizer := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true}
		withoutAuthorizer := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: false}
		one := func(path, expression string, declarations plugincel.OptionalVariableDeclarations) error {
			env, err := e.env(declarations)
			if err != nil {
				return fmt.Errorf("policy %q: %w", policy.Name, err)
			}
			row := estimate{Policy: policy.Name, Expression: path, Limit: celconfig.PerCallLimit}
			ast, issues := env.Compile(expression)
			if issues != nil && issues.Err() != nil {
				row.Error = "compilation failed: " + issues.String()
			} else if cost, err := env.EstimateCost(ast, &library.CostEstimator{}); err != nil {
				row.Error = err.Error()
			} else {
				row.Min, row.Max = cost.Min, cost.Max
				row.Over = cost.Max > uint64(math.MaxInt64) || int64(cost.Max) > row.Limit
			}
			out = append(out, row)
			return nil
		}
		spec := policy.Spec
		for i, c := range spec.MatchConditions {
			if err := one(fmt.Sprintf("spec.matchConditions[%d].expression", i), c.Expression, withAuthorizer); err != nil {
				return nil, err
			}
		}
		for i, v := range spec.Variables {
			if err := one(fmt.Sprintf("spec.variables[%d].expression", i), v.Expression, withAuthorizer); err != nil {
				return nil, err
			}
		}
		for i, v := range spec.Validations {
			if err := one(fmt.Sprintf("spec.validations[%d].expression", i), v.Expression, withAuthorizer); err != nil {
				return nil, err
			}
			if v.MessageExpression != "" {
				path := fmt.Sprintf("spec.validations[%d].messageExpression", i)
				if err := one(path, v.MessageExpression, withoutAuthorizer); err != nil {
					return nil, err
				}
			}
		}
		for i, a := range spec.AuditAnnotations {
			path := fmt.Sprintf("spec.auditAnnotations[%d].valueExpression", i)
			if err := one(path, a.ValueExpression, withAuthorizer); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
