package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/policy/matching"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	listersv1 "k8s.io/client-go/listers/core/v1"
)

// kinds are the kinds PSA judges, each with the resource a request for it is made on.
var kinds = map[schema.GroupVersionKind]schema.GroupVersionResource{
	corev1.SchemeGroupVersion.WithKind("Pod"):                   corev1.SchemeGroupVersion.WithResource("pods"),
	corev1.SchemeGroupVersion.WithKind("ReplicationController"): corev1.SchemeGroupVersion.WithResource("replicationcontrollers"),
	corev1.SchemeGroupVersion.WithKind("PodTemplate"):           corev1.SchemeGroupVersion.WithResource("podtemplates"),
	appsv1.SchemeGroupVersion.WithKind("ReplicaSet"):            appsv1.SchemeGroupVersion.WithResource("replicasets"),
	appsv1.SchemeGroupVersion.WithKind("Deployment"):            appsv1.SchemeGroupVersion.WithResource("deployments"),
	appsv1.SchemeGroupVersion.WithKind("StatefulSet"):           appsv1.SchemeGroupVersion.WithResource("statefulsets"),
	appsv1.SchemeGroupVersion.WithKind("DaemonSet"):             appsv1.SchemeGroupVersion.WithResource("daemonsets"),
	batchv1.SchemeGroupVersion.WithKind("Job"):                  batchv1.SchemeGroupVersion.WithResource("jobs"),
	batchv1.SchemeGroupVersion.WithKind("CronJob"):              batchv1.SchemeGroupVersion.WithResource("cronjobs"),
}

// restMapper knows the resources a paramKind can name here (the bundle holds only ConfigMaps as params); another
// paramKind fails the policy as an API server without that resource does ("failed to find resource referenced by
// paramKind").
func restMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(corev1.SchemeGroupVersion.WithKind("ConfigMap"), meta.RESTScopeNamespace)
	m.Add(corev1.SchemeGroupVersion.WithKind("Namespace"), meta.RESTScopeRoot)
	return m
}

// allowAll is the authorizer CEL's `authorizer` variable asks: every check is allowed.
type allowAll struct{}

func (allowAll) Authorize(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
	return authorizer.DecisionAllow, "", nil
}

// namespaces is the plugin's namespace lister: the bundle's Namespaces, and each request's own. Requests run
// concurrently; two that name the same namespace with different contents (the same name labelled for two levels)
// take turns, so each one's namespaceObject and namespaceSelector see its own.
type namespaces struct {
	mu    sync.Mutex
	turn  *sync.Cond
	base  map[string]*corev1.Namespace
	lease map[string]*namespaceLease
}

type namespaceLease struct {
	namespace *corev1.Namespace
	key       string // its JSON: equal contents share a lease
	users     int
}

func newNamespaces(base []*corev1.Namespace) *namespaces {
	n := &namespaces{base: map[string]*corev1.Namespace{}, lease: map[string]*namespaceLease{}}
	n.turn = sync.NewCond(&n.mu)
	for _, ns := range base {
		n.base[ns.Name] = ns
	}
	return n
}

func (n *namespaces) acquire(ns *corev1.Namespace, key string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		held := n.lease[ns.Name]
		if held == nil {
			n.lease[ns.Name] = &namespaceLease{namespace: ns, key: key, users: 1}
			return
		}
		if held.key == key {
			held.users++
			return
		}
		n.turn.Wait()
	}
}

func (n *namespaces) release(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	held := n.lease[name]
	held.users--
	if held.users == 0 {
		delete(n.lease, name)
		n.turn.Broadcast()
	}
}

func (n *namespaces) Get(name string) (*corev1.Namespace, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if held := n.lease[name]; held != nil {
		return held.namespace, nil
	}
	if ns := n.base[name]; ns != nil {
		return ns, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("namespaces"), name)
}

func (n *namespaces) List(selector labels.Selector) ([]*corev1.Namespace, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*corev1.Namespace
	seen := map[string]bool{}
	for name, held := range n.lease {
		seen[name] = true
		if selector.Matches(labels.Set(held.namespace.Labels)) {
			out = append(out, held.namespace)
		}
	}
	for name, ns := range n.base {
		if !seen[name] && selector.Matches(labels.Set(ns.Labels)) {
			out = append(out, ns)
		}
	}
	return out, nil
}

var _ listersv1.NamespaceLister = &namespaces{}

// engine is the ValidatingAdmissionPolicy plugin wired as kube-apiserver wires it (admission initializers: an
// informer factory and clientset, here fake ones holding the bundle, a REST mapper, a dynamic client, an
// authorizer), with the namespace lister above instead of a Namespace informer.
type engine struct {
	plugin     *validating.Plugin
	interfaces admission.ObjectInterfaces
	namespaces *namespaces
	costs      *costs
}

func newEngine(b *bundle) (*engine, error) {
	var objects []runtime.Object
	for _, p := range b.policies {
		objects = append(objects, p)
	}
	for _, p := range b.bindings {
		objects = append(objects, p)
	}
	for _, c := range b.configMaps {
		objects = append(objects, c)
	}
	client := fake.NewClientset(objects...)
	factory := informers.NewSharedInformerFactory(client, 0)
	plugin, err := validating.NewPlugin(nil)
	if err != nil {
		return nil, err
	}
	stop := make(chan struct{}) // never closed: the plugin lives as long as the process
	ns := newNamespaces(b.namespaces)
	mapper := restMapper()
	plugin.SetExternalKubeInformerFactory(factory)
	plugin.SetExternalKubeClientSet(client)
	plugin.SetRESTMapper(mapper)
	plugin.SetDynamicClient(dynamicfake.NewSimpleDynamicClient(scheme))
	plugin.SetDrainedNotification(stop)
	plugin.SetUnconditionalAuthorizer(allowAll{})
	plugin.SetAPIServerID("vap-engine")
	plugin.SetMatcher(matching.NewMatcher(ns, client))
	factory.Core().V1().Namespaces().Informer() // the plugin's readiness waits on it: start it with the others
	if err := plugin.ValidateInitialization(); err != nil {
		return nil, err
	}
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	if !plugin.WaitForReady() {
		return nil, errors.New("the ValidatingAdmissionPolicy plugin did not become ready")
	}
	// Readiness covers the policy and binding informers' first sync and the compilation of what they hold (the
	// fake clientset holds the whole bundle from the start), so every hook exists before the first request.
	cost, err := newCosts(b, factory, mapper, ns, client)
	if err != nil {
		return nil, err
	}
	return &engine{plugin: plugin, interfaces: admission.NewObjectInterfacesFromScheme(scheme), namespaces: ns, costs: cost}, nil
}

type userInfo struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

type request struct {
	ID          json.RawMessage `json:"id"`
	Operation   string          `json:"operation"`
	Subresource string          `json:"subresource"`
	Object      json.RawMessage `json:"object"`
	OldObject   json.RawMessage `json:"oldObject"`
	Namespace   json.RawMessage `json:"namespace"`
	UserInfo    *userInfo       `json:"userInfo"`
	DryRun      *bool           `json:"dryRun"`
	Cost        bool            `json:"cost"`
}

type status struct {
	Code    int32  `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

type answer struct {
	ID          json.RawMessage   `json:"id"`
	Allowed     bool              `json:"allowed"`
	Status      *status           `json:"status,omitempty"`
	Warnings    []string          `json:"warnings"`
	Annotations map[string]string `json:"annotations"`
	Cost        []bindingCost     `json:"cost,omitempty"`
	Error       string            `json:"error,omitempty"`
}

// recordingAttributes keeps the audit annotations the plugin adds to a request (the API server's audit layer
// reads them from its attributes record, which keeps them to itself).
type recordingAttributes struct {
	admission.Attributes
	mu          sync.Mutex
	annotations map[string]string
}

func (r *recordingAttributes) AddAnnotation(key, value string) error {
	return r.AddAnnotationWithLevel(key, value, auditinternal.LevelMetadata)
}

func (r *recordingAttributes) AddAnnotationWithLevel(key, value string, level auditinternal.Level) error {
	if err := r.Attributes.AddAnnotationWithLevel(key, value, level); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.annotations[key] = value
	return nil
}

// attributes builds the request's admission attributes as the API server's create/update/delete handlers do.
func (e *engine) attributes(req *request) (*recordingAttributes, *corev1.Namespace, error) {
	operation := admission.Operation(req.Operation)
	if operation == "" {
		operation = admission.Create
	}
	var obj, old runtime.Object
	var gvk schema.GroupVersionKind
	var err error
	switch operation {
	case admission.Create, admission.Update:
		if obj, gvk, err = decodeRequestObject(req.Object, "object"); err != nil {
			return nil, nil, err
		}
		if operation == admission.Update {
			var oldGVK schema.GroupVersionKind
			if old, oldGVK, err = decodeRequestObject(req.OldObject, "oldObject"); err != nil {
				return nil, nil, err
			}
			if oldGVK != gvk {
				return nil, nil, fmt.Errorf("oldObject is a %s, object a %s", oldGVK, gvk)
			}
		}
	case admission.Delete:
		source := req.OldObject
		if len(source) == 0 {
			source = req.Object
		}
		if old, gvk, err = decodeRequestObject(source, "oldObject"); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("operation %q is not CREATE, UPDATE or DELETE", req.Operation)
	}
	target := obj
	if target == nil {
		target = old
	}
	accessor, err := meta.Accessor(target)
	if err != nil {
		return nil, nil, err
	}
	var ns *corev1.Namespace
	if len(req.Namespace) > 0 && string(req.Namespace) != "null" {
		decoded, nsGVK, err := decode(req.Namespace)
		if err != nil {
			return nil, nil, fmt.Errorf("namespace: %w", err)
		}
		var ok bool
		if ns, ok = decoded.(*corev1.Namespace); !ok {
			return nil, nil, fmt.Errorf("namespace is a %s, not a v1 Namespace", nsGVK)
		}
		if ns.Name == "" {
			return nil, nil, errors.New("namespace has no metadata.name")
		}
	}
	namespace := accessor.GetNamespace()
	switch {
	case ns != nil && namespace == "":
		namespace = ns.Name
	case ns != nil && namespace != ns.Name:
		return nil, nil, fmt.Errorf("the object's namespace %q is not the request's namespace %q", namespace, ns.Name)
	case namespace == "":
		namespace = metav1.NamespaceDefault
	}
	for _, o := range []runtime.Object{obj, old} {
		if o != nil {
			a, _ := meta.Accessor(o)
			a.SetNamespace(namespace) // the API server sets it from the request path
		}
	}
	var options runtime.Object
	dryRun := req.DryRun == nil || *req.DryRun // pssgen's questions are dry runs unless told otherwise
	var dryRunValues []string
	if dryRun {
		dryRunValues = []string{metav1.DryRunAll}
	}
	switch operation {
	case admission.Create:
		o := &metav1.CreateOptions{DryRun: dryRunValues}
		o.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("CreateOptions"))
		options = o
	case admission.Update:
		o := &metav1.UpdateOptions{DryRun: dryRunValues}
		o.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("UpdateOptions"))
		options = o
	case admission.Delete:
		o := &metav1.DeleteOptions{DryRun: dryRunValues}
		o.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("DeleteOptions"))
		options = o
	}
	info := &user.DefaultInfo{}
	if req.UserInfo != nil {
		info.Name, info.Groups = req.UserInfo.Username, req.UserInfo.Groups
	}
	record := admission.NewAttributesRecord(obj, old, gvk, namespace, accessor.GetName(), kinds[gvk], req.Subresource,
		operation, options, dryRun, info)
	if ns != nil && ns.Name != namespace {
		ns = nil
	}
	return &recordingAttributes{Attributes: record, annotations: map[string]string{}}, ns, nil
}

func decodeRequestObject(data json.RawMessage, field string) (runtime.Object, schema.GroupVersionKind, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, schema.GroupVersionKind{}, fmt.Errorf("request has no %s", field)
	}
	var typeMeta metav1.TypeMeta
	if err := json.Unmarshal(data, &typeMeta); err != nil {
		return nil, schema.GroupVersionKind{}, fmt.Errorf("%s: %w", field, err)
	}
	gvk := typeMeta.GroupVersionKind()
	if _, ok := kinds[gvk]; !ok {
		return nil, gvk, fmt.Errorf("%s: %s %q is not a kind PSA judges", field, typeMeta.APIVersion, typeMeta.Kind)
	}
	obj, _, err := decode(data)
	if err != nil {
		return nil, gvk, fmt.Errorf("%s: %w", field, err)
	}
	return obj, gvk, nil
}

// judge answers one request line as the API server answers a request the plugin reviews: the error it returns,
// as the API server turns it into a Status; the warnings, through the API server's own warning recorder (which
// deduplicates and truncates them); the audit annotations.
func (e *engine) judge(line []byte) answer {
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return answer{ID: json.RawMessage("null"), Error: fmt.Sprintf("request is not JSON: %v", err)}
	}
	if len(req.ID) == 0 {
		return answer{ID: json.RawMessage("null"), Error: "request has no id"}
	}
	fail := func(err error) answer { return answer{ID: req.ID, Error: err.Error()} }
	attrs, ns, err := e.attributes(&req)
	if err != nil {
		return fail(err)
	}
	if ns != nil {
		key, _ := json.Marshal(ns)
		e.namespaces.acquire(ns, string(key))
		defer e.namespaces.release(ns.Name)
	}
	var validateErr error
	recorder := httptest.NewRecorder()
	handler := filters.WithWarningRecorder(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		validateErr = e.plugin.Validate(r.Context(), attrs, e.interfaces)
	}))
	handler.ServeHTTP(recorder, httptest.NewRequest(http.MethodPost, "/", nil))
	out := answer{ID: req.ID, Allowed: validateErr == nil, Warnings: []string{}, Annotations: attrs.annotations}
	headers, _ := utilnet.ParseWarningHeaders(recorder.Header()["Warning"])
	for _, h := range headers {
		out.Warnings = append(out.Warnings, h.Text)
	}
	if validateErr != nil {
		s := responsewriters.ErrorToAPIStatus(validateErr)
		out.Status = &status{Code: s.Code, Reason: string(s.Reason), Message: s.Message}
	}
	if req.Cost {
		if out.Cost, err = e.costs.measure(attrs, e.interfaces); err != nil {
			return fail(fmt.Errorf("measuring the runtime cost: %w", err))
		}
	}
	return out
}
