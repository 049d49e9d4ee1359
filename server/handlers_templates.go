package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/manifest"
	"github.com/brokkr/brokkr/internal/tmpl"
	"github.com/brokkr/brokkr/server/audit"
	"github.com/brokkr/brokkr/server/events"
)

// installTemplates registers its routes, workers and event hooks.
func (s *Server) installTemplates(g routes) {
	g.GET("/templates", s.listTemplates)
	g.POST("/templates", s.createTemplate)
	g.GET("/templates/:id", s.getTemplate)
	g.PUT("/templates/:id", s.updateTemplate)
	g.DELETE("/templates/:id", s.deleteTemplate)
	g.GET("/templates/:id/labels", s.listTemplateLabels)
	g.POST("/templates/:id/labels", s.addTemplateLabel)
	g.DELETE("/templates/:id/labels/:label", s.removeTemplateLabel)
	g.GET("/templates/:id/annotations", s.listTemplateAnnotations)
	g.POST("/templates/:id/annotations", s.addTemplateAnnotation)
	g.DELETE("/templates/:id/annotations/:key", s.removeTemplateAnnotation)
	g.POST("/stacks/:stack_id/deployment-objects/from-template", s.instantiateTemplate)
}

var errTemplateNotFound = notFound("template_not_found", "template not found")

// Access to templates (api.md §5.9): the admin reads and modifies every template; a
// generator reads its own and the system templates (generator_id null) and modifies only its
// own; agents have no access.

func canReadTemplate(who Identity, t db.StackTemplate) error {
	if who.Admin || who.IsGenerator() && (t.GeneratorID == nil || *t.GeneratorID == who.GeneratorID) {
		return nil
	}
	return forbidden("template_not_accessible", "no read access to this template")
}

func canModifyTemplate(who Identity, t db.StackTemplate) error {
	if who.Admin || who.IsGenerator() && t.GeneratorID != nil && *t.GeneratorID == who.GeneratorID {
		return nil
	}
	if t.GeneratorID == nil {
		return forbidden("template_not_owned", "system templates can only be changed by the admin")
	}
	return forbidden("template_not_owned", "the template belongs to another owner")
}

// pathTemplate loads the live template of the path (404 first) and applies check to it.
func (s *Server) pathTemplate(c echo.Context, check func(Identity, db.StackTemplate) error) (db.StackTemplate, error) {
	id, err := uuidParam(c, "id")
	if err != nil {
		return db.StackTemplate{}, err
	}
	t, err := db.GetTemplate(c.Request().Context(), s.db, id)
	if err != nil {
		return db.StackTemplate{}, orNotFound(err, errTemplateNotFound)
	}
	if err := check(identity(c), t); err != nil {
		return db.StackTemplate{}, err
	}
	return t, nil
}

func (s *Server) listTemplates(c echo.Context) error {
	who := identity(c)
	var visibleTo *uuid.UUID
	switch {
	case who.Admin:
	case who.IsGenerator():
		g := who.GeneratorID
		visibleTo = &g
	default:
		return forbidden("templates_not_accessible", "only the admin and generators can use templates")
	}
	p, err := pageParams(c, "templates", collectionLimits)
	if err != nil {
		return err
	}
	rows, more, err := db.ListTemplates(c.Request().Context(), s.db, visibleTo, p)
	if err != nil {
		return err
	}
	return replyPage(c, "templates", rows, more, templateKey, toStackTemplate)
}

// templateContent is the content of a template version as a request gives it.
type templateContent struct {
	Description      *string `json:"description"`
	TemplateContent  *string `json:"template_content"`
	ParametersSchema *string `json:"parameters_schema"`
}

// check validates the content in the reference's order: template syntax (422
// template_too_deep before parsing, see templateGuard), parameters schema, then the blank
// values the reference only rejects in its database layer (with a 500); here they are 400
// invalid_template.
func (b templateContent) check(c echo.Context, g *templateGuard) error {
	if err := g.check(c, *b.TemplateContent); err != nil {
		return err
	}
	if _, err := tmpl.CompileSchema(*b.ParametersSchema); err != nil {
		return badRequest("invalid_parameters_schema", "parameters_schema: "+err.Error())
	}
	if strings.TrimSpace(*b.TemplateContent) == "" {
		return badRequest("invalid_template", "template_content must not be blank")
	}
	if b.Description != nil && strings.TrimSpace(*b.Description) == "" {
		return badRequest("invalid_template", "description must not be blank when given")
	}
	return nil
}

func (s *Server) createTemplate(c echo.Context) error {
	who := identity(c)
	if !who.Admin && !who.IsGenerator() {
		return forbidden("templates_not_accessible", "only the admin and generators can create templates")
	}
	var body struct {
		Name             *string `json:"name"`
		Description      *string `json:"description"`
		TemplateContent  *string `json:"template_content"`
		ParametersSchema *string `json:"parameters_schema"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"name", body.Name != nil}, field{"template_content", body.TemplateContent != nil},
		field{"parameters_schema", body.ParametersSchema != nil}); err != nil {
		return err
	}
	if err := (templateContent{body.Description, body.TemplateContent, body.ParametersSchema}).check(c, s.templates); err != nil {
		return err
	}
	if err := checkName("invalid_template", "name", *body.Name); err != nil {
		return err
	}
	var owner *uuid.UUID // the admin creates system templates
	if !who.Admin {
		g := who.GeneratorID
		owner = &g
	}
	t, err := s.createTemplateVersion(c, db.NewTemplateVersion{
		GeneratorID: owner, Name: *body.Name, Description: body.Description,
		TemplateContent: *body.TemplateContent, ParametersSchema: *body.ParametersSchema,
	})
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.TemplateCreated, ResourceType: audit.ResourceTemplate, ResourceID: ptr(t.ID),
		Details: map[string]any{"name": t.Name, "version": t.Version}})
	return reply(c, http.StatusCreated, toStackTemplate(t))
}

// createTemplateVersion inserts the next version of a template; the version numbering needs
// a transaction (see db.CreateTemplateVersion).
func (s *Server) createTemplateVersion(c echo.Context, n db.NewTemplateVersion) (db.StackTemplate, error) {
	ctx := c.Request().Context()
	n.Checksum = manifest.Checksum(n.TemplateContent)
	var t db.StackTemplate
	err := s.db.InTx(ctx, func(q db.Queryer) error {
		var err error
		t, err = db.CreateTemplateVersion(ctx, q, n)
		return err
	})
	return t, err
}

func (s *Server) getTemplate(c echo.Context) error {
	t, err := s.pathTemplate(c, canReadTemplate)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, toStackTemplate(t))
}

func (s *Server) updateTemplate(c echo.Context) error {
	prev, err := s.pathTemplate(c, canModifyTemplate)
	if err != nil {
		return err
	}
	var body templateContent
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"template_content", body.TemplateContent != nil},
		field{"parameters_schema", body.ParametersSchema != nil}); err != nil {
		return err
	}
	if err := body.check(c, s.templates); err != nil {
		return err
	}
	description := body.Description
	if description == nil {
		description = prev.Description
	}
	t, err := s.createTemplateVersion(c, db.NewTemplateVersion{
		GeneratorID: prev.GeneratorID, Name: prev.Name, Description: description,
		TemplateContent: *body.TemplateContent, ParametersSchema: *body.ParametersSchema,
	})
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.TemplateUpdated, ResourceType: audit.ResourceTemplate, ResourceID: ptr(t.ID),
		Details: map[string]any{"name": t.Name, "version": t.Version, "previous_id": prev.ID}})
	return reply(c, http.StatusOK, toStackTemplate(t))
}

func (s *Server) deleteTemplate(c echo.Context) error {
	t, err := s.pathTemplate(c, canModifyTemplate)
	if err != nil {
		return err
	}
	if _, err := db.SoftDeleteTemplate(c.Request().Context(), s.db, t.ID); err != nil {
		return orNotFound(err, errTemplateNotFound)
	}
	s.audit(c, audit.Entry{Action: audit.TemplateDeleted, ResourceType: audit.ResourceTemplate, ResourceID: ptr(t.ID),
		Details: map[string]any{"name": t.Name, "version": t.Version}})
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listTemplateLabels(c echo.Context) error {
	t, err := s.pathTemplate(c, canReadTemplate)
	if err != nil {
		return err
	}
	rows, err := db.ListTemplateLabels(c.Request().Context(), s.db, t.ID)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toTemplateLabel))
}

func (s *Server) addTemplateLabel(c echo.Context) error {
	t, err := s.pathTemplate(c, canModifyTemplate)
	if err != nil {
		return err
	}
	var label *string
	if err := bindJSON(c, &label); err != nil {
		return err
	}
	if label == nil {
		return badRequest("invalid_label", "body must be a JSON string, e.g. \"env:prod\"")
	}
	if err := checkLabel(*label); err != nil {
		return err
	}
	l, err := db.AddTemplateLabel(c.Request().Context(), s.db, t.ID, *label)
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toTemplateLabel(l))
}

func (s *Server) removeTemplateLabel(c echo.Context) error {
	t, err := s.pathTemplate(c, canModifyTemplate)
	if err != nil {
		return err
	}
	if err := db.RemoveTemplateLabel(c.Request().Context(), s.db, t.ID, param(c, "label")); err != nil {
		return orNotFound(err, notFound("template_label_not_found", "template label not found"))
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listTemplateAnnotations(c echo.Context) error {
	t, err := s.pathTemplate(c, canReadTemplate)
	if err != nil {
		return err
	}
	rows, err := db.ListTemplateAnnotations(c.Request().Context(), s.db, t.ID)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toTemplateAnnotation))
}

// checkTemplateAnnotation validates a template annotation: key and value each non-blank, at
// most 64 bytes, without whitespace.
func checkTemplateAnnotation(key, value string) error {
	for _, f := range []struct{ what, v string }{{"key", key}, {"value", value}} {
		switch {
		case strings.TrimSpace(f.v) == "":
			return badRequest("invalid_annotation", "annotation "+f.what+" must not be blank")
		case len(f.v) > maxLabelLen:
			return badRequest("invalid_annotation", fmt.Sprintf("annotation %s must be at most %d bytes", f.what, maxLabelLen))
		case strings.IndexFunc(f.v, unicode.IsSpace) >= 0:
			return badRequest("invalid_annotation", "annotation "+f.what+" must not contain whitespace")
		}
	}
	return nil
}

func (s *Server) addTemplateAnnotation(c echo.Context) error {
	t, err := s.pathTemplate(c, canModifyTemplate)
	if err != nil {
		return err
	}
	var body struct {
		Key   *string `json:"key"`
		Value *string `json:"value"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"key", body.Key != nil}, field{"value", body.Value != nil}); err != nil {
		return err
	}
	if err := checkTemplateAnnotation(*body.Key, *body.Value); err != nil {
		return err
	}
	a, err := db.AddTemplateAnnotation(c.Request().Context(), s.db, t.ID, *body.Key, *body.Value)
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toTemplateAnnotation(a))
}

func (s *Server) removeTemplateAnnotation(c echo.Context) error {
	t, err := s.pathTemplate(c, canModifyTemplate)
	if err != nil {
		return err
	}
	if err := db.RemoveTemplateAnnotation(c.Request().Context(), s.db, t.ID, param(c, "key")); err != nil {
		return orNotFound(err, notFound("template_annotation_not_found", "template annotation not found"))
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) instantiateTemplate(c echo.Context) error {
	st, err := s.ownedStackParam(c, "stack_id")
	if err != nil {
		return err
	}
	var body struct {
		TemplateID *uuid.UUID      `json:"template_id"`
		Parameters json.RawMessage `json:"parameters"`
		Urgent     *bool           `json:"urgent"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	urgent, err := urgentParam(c, body.Urgent)
	if err != nil {
		return err
	}
	if err := requireFields(field{"template_id", body.TemplateID != nil},
		field{"parameters", len(body.Parameters) > 0}); err != nil {
		return err
	}
	params, err := decodeParameters(body.Parameters)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := db.GetTemplate(ctx, s.db, *body.TemplateID)
	if err != nil {
		return orNotFound(err, errTemplateNotFound)
	}
	if err := canReadTemplate(identity(c), t); err != nil {
		return err
	}
	if err := s.matchTemplate(c, t, st); err != nil {
		return err
	}
	schema, err := tmpl.CompileSchema(t.ParametersSchema)
	if err != nil {
		return badRequest("invalid_parameters", "the template's parameters schema does not compile").
			with("validation_errors", []string{err.Error()})
	}
	if problems := schema.Validate(params); problems != nil {
		return badRequest("invalid_parameters", "parameters do not match the template's schema").
			with("validation_errors", problems)
	}
	vars, _ := params.(map[string]any) // non-object parameters define no variables
	rendered, err := s.templates.render(c, t.TemplateContent, vars)
	if err != nil {
		return err
	}
	if strings.TrimSpace(rendered) == "" {
		return badRequest("invalid_deployment_object", "the template rendered to blank content")
	}
	if err := manifest.Validate(rendered); err != nil {
		return badRequest("invalid_deployment_object", "the template rendered a manifest no agent can apply: "+err.Error())
	}
	paramsText, err := canonicalJSON(params)
	if err != nil {
		return err
	}
	var obj db.DeploymentObject
	err = s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
		var err error
		if obj, err = db.CreateDeploymentObject(ctx, q, st.ID, rendered, manifest.Checksum(rendered), false, urgent); err != nil {
			return err
		}
		if err := db.RecordRenderedObject(ctx, q, db.RenderedObject{
			DeploymentObjectID: obj.ID, TemplateID: t.ID, TemplateVersion: t.Version, Parameters: paramsText,
		}); err != nil {
			return err
		}
		return s.emitDeploymentCreated(ctx, q, em, st, obj, false)
	})
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toDeploymentObject(obj))
}

// decodeParameters decodes the parameters of an instantiation, numbers kept exact.
func decodeParameters(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, badRequest("invalid_json", "parameters: "+err.Error())
	}
	return v, nil
}

// canonicalJSON serialises a decoded JSON value compactly, object keys sorted.
func canonicalJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encode parameters: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// matchTemplate checks that the stack carries every label and every exact annotation of the
// template (a template with neither matches every stack); 422 template_stack_mismatch lists
// what is missing.
func (s *Server) matchTemplate(c echo.Context, t db.StackTemplate, st db.Stack) error {
	ctx := c.Request().Context()
	tLabels, err := db.ListTemplateLabels(ctx, s.db, t.ID)
	if err != nil {
		return err
	}
	tAnnotations, err := db.ListTemplateAnnotations(ctx, s.db, t.ID)
	if err != nil {
		return err
	}
	if len(tLabels) == 0 && len(tAnnotations) == 0 {
		return nil
	}
	sLabels, err := db.StackLabels.List(ctx, s.db, st.ID)
	if err != nil {
		return err
	}
	sAnnotations, err := db.StackAnnotations.List(ctx, s.db, st.ID)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, l := range sLabels {
		have[l.Label] = true
	}
	haveAnn := map[[2]string]bool{}
	for _, a := range sAnnotations {
		haveAnn[[2]string{a.Key, a.Value}] = true
	}
	missingLabels := []string{}
	for _, l := range tLabels {
		if !have[l.Label] {
			missingLabels = append(missingLabels, l.Label)
		}
	}
	missingAnnotations := [][2]string{}
	for _, a := range tAnnotations {
		if !haveAnn[[2]string{a.Key, a.Value}] {
			missingAnnotations = append(missingAnnotations, [2]string{a.Key, a.Value})
		}
	}
	if len(missingLabels) == 0 && len(missingAnnotations) == 0 {
		return nil
	}
	return apiError(http.StatusUnprocessableEntity, "template_stack_mismatch",
		"the stack lacks labels or annotations the template requires").
		with("missing_labels", missingLabels).with("missing_annotations", missingAnnotations)
}

func toStackTemplate(t db.StackTemplate) client.StackTemplate {
	return client.StackTemplate{
		ID: t.ID, CreatedAt: utc(t.CreatedAt), UpdatedAt: utc(t.UpdatedAt), DeletedAt: utcp(t.DeletedAt),
		GeneratorID: t.GeneratorID, Name: t.Name, Description: t.Description, Version: t.Version,
		TemplateContent: t.TemplateContent, ParametersSchema: t.ParametersSchema, Checksum: t.Checksum,
	}
}

func toTemplateLabel(l db.TemplateLabel) client.TemplateLabel {
	return client.TemplateLabel{ID: l.ID, TemplateID: l.TemplateID, Label: l.Label, CreatedAt: utc(l.CreatedAt)}
}

func toTemplateAnnotation(a db.TemplateAnnotation) client.TemplateAnnotation {
	return client.TemplateAnnotation{ID: a.ID, TemplateID: a.TemplateID, Key: a.Key, Value: a.Value, CreatedAt: utc(a.CreatedAt)}
}
