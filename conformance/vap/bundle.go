package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/kubernetes/pkg/apis/admissionregistration"
	admissionregistrationinstall "k8s.io/kubernetes/pkg/apis/admissionregistration/install"
	admissionregistrationvalidation "k8s.io/kubernetes/pkg/apis/admissionregistration/validation"
	appsinstall "k8s.io/kubernetes/pkg/apis/apps/install"
	batchinstall "k8s.io/kubernetes/pkg/apis/batch/install"
	coreinstall "k8s.io/kubernetes/pkg/apis/core/install"
)

// scheme holds the API server's own types, conversions and defaulting functions for the groups the engine reads:
// core (Pods, ConfigMaps, Namespaces), apps, batch and admissionregistration. Objects are defaulted with it as the
// API server defaults what it decodes, so CEL sees what it sees in a cluster.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	coreinstall.Install(s)
	appsinstall.Install(s)
	batchinstall.Install(s)
	admissionregistrationinstall.Install(s)
	return s
}()

// decoder reads versioned objects into their versioned Go types, dropping unknown fields as the API server's
// non-strict decoding does, without converting or defaulting them (decode does that, with the scheme).
var decoder = serializer.NewCodecFactory(scheme).UniversalDeserializer()

// bundle is what a directory of YAML files holds for admission: the policies and bindings, the objects their
// paramRefs name (ConfigMaps) and Namespaces, each defaulted as the API server defaults it on creation.
type bundle struct {
	policies   []*admissionregistrationv1.ValidatingAdmissionPolicy
	bindings   []*admissionregistrationv1.ValidatingAdmissionPolicyBinding
	configMaps []*corev1.ConfigMap
	namespaces []*corev1.Namespace
}

var (
	policyGVK    = admissionregistrationv1.SchemeGroupVersion.WithKind("ValidatingAdmissionPolicy")
	bindingGVK   = admissionregistrationv1.SchemeGroupVersion.WithKind("ValidatingAdmissionPolicyBinding")
	configMapGVK = corev1.SchemeGroupVersion.WithKind("ConfigMap")
	namespaceGVK = corev1.SchemeGroupVersion.WithKind("Namespace")
)

// loadBundle reads every *.yaml, *.yml and *.json file under dir (kustomization.yaml excepted), in path order.
// A policy or binding the API server would refuse to create is an error in the API server's words; so is an object
// of a kind the engine cannot hold (it would be silently missing from what the cluster has).
func loadBundle(dir string) (*bundle, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, entry os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := entry.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if !entry.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") && name != "kustomization.yaml" &&
			name != "kustomization.yml" {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	b := &bundle{}
	for _, path := range paths {
		if err := b.readFile(path); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if len(b.policies) == 0 {
		return nil, fmt.Errorf("%s holds no ValidatingAdmissionPolicy", dir)
	}
	return b, nil
}

// loadBundleFiles reads a bundle given as file contents by name (the setup line of `vap-engine -`), in name order,
// skipping kustomization files as loadBundle does.
func loadBundleFiles(files map[string]string) (*bundle, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		base := filepath.Base(name)
		if base != "kustomization.yaml" && base != "kustomization.yml" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	b := &bundle{}
	for _, name := range names {
		if err := b.read([]byte(files[name])); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(b.policies) == 0 {
		return nil, errors.New("the bundle holds no ValidatingAdmissionPolicy")
	}
	return b, nil
}

func (b *bundle) readFile(path string) error {
	content, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return b.read(content)
}

func (b *bundle) read(content []byte) error {
	documents := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(content), 4096)
	for index := 0; ; index++ {
		var raw runtime.RawExtension
		if err := documents.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("document %d: %w", index, err)
		}
		if len(bytes.TrimSpace(raw.Raw)) == 0 || string(bytes.TrimSpace(raw.Raw)) == "null" {
			continue
		}
		obj, gvk, err := decode(raw.Raw)
		if err != nil {
			return fmt.Errorf("document %d: %w", index, err)
		}
		if err := b.add(obj, *gvk); err != nil {
			return fmt.Errorf("document %d: %w", index, err)
		}
	}
}

func (b *bundle) add(obj runtime.Object, gvk schema.GroupVersionKind) error {
	switch o := obj.(type) {
	case *admissionregistrationv1.ValidatingAdmissionPolicy:
		if err := validateCreate(o, &admissionregistration.ValidatingAdmissionPolicy{}, o.Name); err != nil {
			return err
		}
		b.policies = append(b.policies, o)
	case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
		if err := validateCreate(o, &admissionregistration.ValidatingAdmissionPolicyBinding{}, o.Name); err != nil {
			return err
		}
		b.bindings = append(b.bindings, o)
	case *corev1.ConfigMap:
		if o.Namespace == "" {
			o.Namespace = metav1NamespaceDefault
		}
		b.configMaps = append(b.configMaps, o)
	case *corev1.Namespace:
		b.namespaces = append(b.namespaces, o)
	default:
		return fmt.Errorf("%s %s: the engine holds only ValidatingAdmissionPolicies, their bindings, ConfigMaps "+
			"and Namespaces", gvk.GroupVersion(), gvk.Kind)
	}
	return nil
}

const metav1NamespaceDefault = "default"

// decode reads one versioned object and applies the API server's defaulting to it.
func decode(data []byte) (runtime.Object, *schema.GroupVersionKind, error) {
	obj, gvk, err := decoder.Decode(data, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	scheme.Default(obj)
	return obj, gvk, nil
}

// validateCreate runs the API server's create validation of a policy or binding on its internal form, and words
// a refusal as the API server does ("ValidatingAdmissionPolicy.admissionregistration.k8s.io "x" is invalid: ...").
func validateCreate(versioned runtime.Object, internal runtime.Object, name string) error {
	if err := scheme.Convert(versioned, internal, nil); err != nil {
		return err
	}
	switch o := internal.(type) {
	case *admissionregistration.ValidatingAdmissionPolicy:
		if errs := admissionregistrationvalidation.ValidateValidatingAdmissionPolicy(o); len(errs) > 0 {
			return apierrors.NewInvalid(admissionregistration.Kind("ValidatingAdmissionPolicy"), name, errs)
		}
	case *admissionregistration.ValidatingAdmissionPolicyBinding:
		if errs := admissionregistrationvalidation.ValidateValidatingAdmissionPolicyBinding(o); len(errs) > 0 {
			return apierrors.NewInvalid(admissionregistration.Kind("ValidatingAdmissionPolicyBinding"), name, errs)
		}
	}
	return nil
}
