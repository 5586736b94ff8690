package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apiserver/pkg/admission"
	admissionauthorizer "k8s.io/apiserver/pkg/admission/plugin/authorizer"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/generic"
	"k8s.io/apiserver/pkg/admission/plugin/policy/matching"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
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

// bindingCost is the runtime CEL cost one policy-binding-param evaluation of a request spent, phase by phase as
// the plugin's validator charges them.
type bindingCost struct {
	Policy  string `json:"policy"`
	Binding string `json:"binding"`
	Param   string `json:"param,omitempty"` // namespace/name of the param object, when the policy has params
	// MatchConditions: spent of celconfig.RuntimeCELCostBudgetMatchConditions; Matched false: the policy is skipped.
	MatchConditions *int64 `json:"matchConditions,omitempty"`
	Matched         bool   `json:"matched"`
	// Validations (with the variables they evaluate) and then MessageExpressions (which evaluate the variables
	// again) share Budget (celconfig.RuntimeCELCostBudget); Total is what they spent of it.
	Validations        int64 `json:"validations"`
	MessageExpressions int64 `json:"messageExpressions"`
	Total              int64 `json:"total"`
	Budget             int64 `json:"budget"`
	// AuditAnnotations have a budget of their own, also celconfig.RuntimeCELCostBudget.
	AuditAnnotations int64 `json:"auditAnnotations"`
	OutOfBudget      bool  `json:"outOfBudget"`
	// Expressions: each expression evaluated alone, with the variables it reads; PerCallLimit applies to each.
	Expressions []expressionCost `json:"expressions"`
	Limit       int64            `json:"limit"`
}

type expressionCost struct {
	Expression string `json:"expression"`
	Cost       int64  `json:"cost"`
	Error      string `json:"error,omitempty"`
}

// compiledPolicy is a policy compiled as the plugin compiles it (compilePolicy: a composited compiler over
// MustBaseEnvSet(DefaultCompatibilityVersion()), StoredExpressions), once as whole filters and once an
// expression at a time, so that costs can be read: the plugin's own evaluator does not report them.
type compiledPolicy struct {
	policy          *admissionregistrationv1.ValidatingAdmissionPolicy
	matchConditions plugincel.ConditionEvaluator
	validations     plugincel.ConditionEvaluator
	messages        plugincel.ConditionEvaluator
	audits          plugincel.ConditionEvaluator
	constant        plugincel.ConditionEvaluator // what a variable's single expression costs around it
	singles         []single
}

type single struct {
	path       string
	evaluator  plugincel.ConditionEvaluator
	authorizer bool
	audit      bool // audit annotations see the whole Namespace, the others the fields CEL exposes
	variable   bool // the cost of `[null].size() == 1` is taken off
}

// costs measures runtime cost on the same informers, params and namespaces the plugin reads.
type costs struct {
	bundle   *bundle
	once     sync.Once // the policies are compiled for costs when a request first asks for them
	err      error
	policies []compiledPolicy
	bindings []*admissionregistrationv1.ValidatingAdmissionPolicyBinding
	matcher  generic.PolicyMatcher
	factory  informers.SharedInformerFactory
	mapper   meta.RESTMapper
	ns       *namespaces
}

func newCosts(b *bundle, factory informers.SharedInformerFactory, mapper meta.RESTMapper, ns *namespaces, client kubernetes.Interface) (*costs, error) {
	c := &costs{
		bundle:   b,
		bindings: b.bindings,
		matcher:  generic.NewPolicyMatcher(matching.NewMatcher(ns, client)),
		factory:  factory,
		mapper:   mapper,
		ns:       ns,
	}
	return c, nil
}

func (c *costs) compile() error {
	c.once.Do(func() {
		for _, policy := range c.bundle.policies {
			compiled, err := compileForCost(policy)
			if err != nil {
				c.err = fmt.Errorf("policy %q: %w", policy.Name, err)
				return
			}
			c.policies = append(c.policies, compiled)
		}
	})
	return c.err
}

func compileForCost(policy *admissionregistrationv1.ValidatingAdmissionPolicy) (compiledPolicy, error) {
	hasParams := policy.Spec.ParamKind != nil
	withAuthorizer := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true}
	withoutAuthorizer := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: false}
	compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return compiledPolicy{}, err
	}
	variables := make([]plugincel.NamedExpressionAccessor, len(policy.Spec.Variables))
	for i, v := range policy.Spec.Variables {
		variables[i] = &validating.Variable{Name: v.Name, Expression: v.Expression}
	}
	compiler.CompileAndStoreVariables(variables, withAuthorizer, environment.StoredExpressions)
	spec := policy.Spec
	var matchConditions, validations, messages, audits []plugincel.ExpressionAccessor
	out := compiledPolicy{policy: policy}
	add := func(path string, accessor plugincel.ExpressionAccessor, declarations plugincel.OptionalVariableDeclarations, audit bool) error {
		variable := strings.HasPrefix(path, "spec.variables[")
		// The same compiler: each evaluation gets a composition context of its own, so an expression evaluated
		// alone evaluates the variables it reads, and is charged for them.
		evaluator := compiler.CompileCondition([]plugincel.ExpressionAccessor{accessor}, declarations, environment.StoredExpressions)
		// audit annotations are compiled with the authorizer declared but evaluated without it, as the validator does
		out.singles = append(out.singles, single{path: path, evaluator: evaluator, authorizer: declarations.HasAuthorizer && !audit, audit: audit, variable: variable})
		return nil
	}
	for i := range spec.MatchConditions {
		accessor := (*matchconditions.MatchCondition)(&spec.MatchConditions[i])
		matchConditions = append(matchConditions, accessor)
		if err := add(fmt.Sprintf("spec.matchConditions[%d].expression", i), accessor, withAuthorizer, false); err != nil {
			return out, err
		}
	}
	for i, v := range spec.Variables {
		// A variable alone: `[variables.<name>].size() == 1` evaluates it once; measure subtracts what the same
		// expression costs around a constant, which leaves the variable's cost and the one selection reading it.
		accessor := &validating.ValidationCondition{Expression: "[variables." + v.Name + "].size() == 1"}
		if err := add(fmt.Sprintf("spec.variables[%d].expression", i), accessor, withAuthorizer, false); err != nil {
			return out, err
		}
	}
	for i, v := range spec.Validations {
		accessor := &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason}
		validations = append(validations, accessor)
		if err := add(fmt.Sprintf("spec.validations[%d].expression", i), accessor, withAuthorizer, false); err != nil {
			return out, err
		}
		if v.MessageExpression == "" {
			messages = append(messages, nil) // the plugin's placeholder: message i belongs to validation i
			continue
		}
		message := &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}
		messages = append(messages, message)
		if err := add(fmt.Sprintf("spec.validations[%d].messageExpression", i), message, withoutAuthorizer, false); err != nil {
			return out, err
		}
	}
	for i, a := range spec.AuditAnnotations {
		accessor := &validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: a.ValueExpression}
		audits = append(audits, accessor)
		if err := add(fmt.Sprintf("spec.auditAnnotations[%d].valueExpression", i), accessor, withAuthorizer, true); err != nil {
			return out, err
		}
	}
	if len(matchConditions) > 0 {
		out.matchConditions = compiler.CompileCondition(matchConditions, withAuthorizer, environment.StoredExpressions)
	}
	out.validations = compiler.CompileCondition(validations, withAuthorizer, environment.StoredExpressions)
	out.messages = compiler.CompileCondition(messages, withoutAuthorizer, environment.StoredExpressions)
	out.audits = compiler.CompileCondition(audits, withAuthorizer, environment.StoredExpressions)
	constant := &validating.ValidationCondition{Expression: "[null].size() == 1"}
	out.constant = compiler.CompileCondition([]plugincel.ExpressionAccessor{constant}, withAuthorizer, environment.StoredExpressions)
	return out, nil
}

// measure evaluates a request against every policy-binding-param it matches (the plugin's matcher and
// generic.CollectParams decide which) and reports what each phase spent.
func (c *costs) measure(attrs admission.Attributes, o admission.ObjectInterfaces) ([]bindingCost, error) {
	if err := c.compile(); err != nil {
		return nil, err
	}
	ctx := context.Background()
	authz := admissionauthorizer.NewCachingAuthorizer(allowAll{})
	out := []bindingCost{}
	for _, compiled := range c.policies {
		policy := compiled.policy
		matches, gvr, gvk, err := c.matcher.DefinitionMatches(attrs, o, validating.NewValidatingAdmissionPolicyAccessor(policy))
		if err != nil {
			return nil, fmt.Errorf("policy %q: %w", policy.Name, err)
		}
		if !matches {
			continue
		}
		var paramInformer informers.GenericInformer
		var paramScope meta.RESTScope
		if kind := policy.Spec.ParamKind; kind != nil {
			gv, err := schema.ParseGroupVersion(kind.APIVersion)
			if err != nil {
				return nil, err
			}
			mapping, err := c.mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: kind.Kind}, gv.Version)
			if err != nil {
				return nil, fmt.Errorf("policy %q: paramKind %v: %w", policy.Name, *kind, err)
			}
			if paramInformer, err = c.factory.ForResource(mapping.Resource); err != nil {
				return nil, err
			}
			paramScope = mapping.Scope
		}
		for _, binding := range c.bindings {
			if binding.Spec.PolicyName != policy.Name {
				continue
			}
			matches, err := c.matcher.BindingMatches(attrs, o, validating.NewValidatingAdmissionPolicyBindingAccessor(binding))
			if err != nil {
				return nil, fmt.Errorf("binding %q: %w", binding.Name, err)
			}
			if !matches {
				continue
			}
			params, err := generic.CollectParams(policy.Spec.ParamKind, paramInformer, paramScope, binding.Spec.ParamRef, attrs.GetNamespace(), nil, nil)
			if err != nil {
				continue // the plugin denies (or ignores) the binding without evaluating anything: no cost
			}
			versioned, err := admission.NewVersionedAttributes(attrs, gvk, o)
			if err != nil {
				return nil, err
			}
			var namespace *corev1.Namespace
			if attrs.GetNamespace() != "" {
				if namespace, err = c.ns.Get(attrs.GetNamespace()); err != nil {
					return nil, err
				}
			}
			for _, param := range params {
				out = append(out, compiled.measure(ctx, binding, param, versioned, gvr, namespace, authz))
			}
		}
	}
	return out, nil
}

func (p *compiledPolicy) measure(ctx context.Context, binding *admissionregistrationv1.ValidatingAdmissionPolicyBinding, param runtime.Object, versioned *admission.VersionedAttributes, gvr schema.GroupVersionResource, namespace *corev1.Namespace, authz authorizer.UnconditionalAuthorizer) bindingCost {
	row := bindingCost{Policy: p.policy.Name, Binding: binding.Name, Budget: celconfig.RuntimeCELCostBudget, Limit: celconfig.PerCallLimit, Matched: true, Expressions: []expressionCost{}}
	if param != nil {
		param = param.DeepCopyObject()
		if accessor, err := meta.Accessor(param); err == nil {
			row.Param = accessor.GetNamespace() + "/" + accessor.GetName()
		}
		if kind := p.policy.Spec.ParamKind; kind != nil && param.GetObjectKind().GroupVersionKind().Empty() {
			// as the dispatcher wraps an informer's object, which has no apiVersion and kind
			param.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(kind.APIVersion, kind.Kind))
		}
	}
	request := plugincel.CreateAdmissionRequest(versioned.Attributes, metav1.GroupVersionResource(gvr), metav1.GroupVersionKind(versioned.VersionedKind))
	exposed := plugincel.CreateNamespaceObject(namespace)
	withAuthorizer := plugincel.OptionalVariableBindings{VersionedParams: param, Authorizer: authz}
	withoutAuthorizer := plugincel.OptionalVariableBindings{VersionedParams: param}
	spent := func(budget, remaining int64) int64 {
		if remaining < 0 {
			row.OutOfBudget = true
			return budget
		}
		return budget - remaining
	}
	if p.matchConditions != nil {
		results, remaining, _ := p.matchConditions.ForInput(ctx, versioned, request, withAuthorizer, nil, celconfig.RuntimeCELCostBudgetMatchConditions)
		cost := spent(celconfig.RuntimeCELCostBudgetMatchConditions, remaining)
		row.MatchConditions = &cost
		for _, r := range results {
			if r.Error == nil && r.EvalResult != nil && r.EvalResult.Value() == false {
				row.Matched = false
			}
		}
	}
	if row.Matched {
		_, remaining, _ := p.validations.ForInput(ctx, versioned, request, withAuthorizer, exposed, celconfig.RuntimeCELCostBudget)
		row.Validations = spent(celconfig.RuntimeCELCostBudget, remaining)
		if remaining >= 0 {
			_, left, _ := p.messages.ForInput(ctx, versioned, request, withoutAuthorizer, exposed, remaining)
			row.MessageExpressions = spent(remaining, left)
		}
		row.Total = row.Validations + row.MessageExpressions
		_, remaining, _ = p.audits.ForInput(ctx, versioned, request, withoutAuthorizer, namespace, celconfig.RuntimeCELCostBudget)
		row.AuditAnnotations = spent(celconfig.RuntimeCELCostBudget, remaining)
	}
	_, remaining, _ := p.constant.ForInput(ctx, versioned, request, withAuthorizer, exposed, celconfig.RuntimeCELCostBudget)
	overhead := celconfig.RuntimeCELCostBudget - remaining
	for _, s := range p.singles {
		bindings, ns := withoutAuthorizer, exposed
		if s.authorizer {
			bindings = withAuthorizer
		}
		if s.audit {
			ns = namespace
		}
		results, remaining, err := s.evaluator.ForInput(ctx, versioned, request, bindings, ns, celconfig.RuntimeCELCostBudget)
		e := expressionCost{Expression: s.path, Cost: celconfig.RuntimeCELCostBudget - remaining}
		if err != nil {
			e.Error = err.Error()
		} else if len(results) == 1 && results[0].Error != nil {
			e.Error = results[0].Error.Error()
		}
		if remaining < 0 {
			e.Cost = celconfig.RuntimeCELCostBudget
		} else if s.variable {
			e.Cost -= overhead
		}
		row.Expressions = append(row.Expressions, e)
	}
	return row
}
