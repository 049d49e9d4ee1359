package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/manifest"
	"github.com/brokkr/brokkr/server/audit"
	"github.com/brokkr/brokkr/server/events"
	"github.com/brokkr/brokkr/server/live"
)

func (s *Server) stackRoutes(g routes) {
	g.GET("/stacks", s.listStacks)
	g.POST("/stacks", s.createStack)
	g.GET("/stacks/:id", s.getStack)
	g.PUT("/stacks/:id", s.updateStack)
	g.DELETE("/stacks/:id", s.deleteStack)
	g.GET("/stacks/:id/deployment-objects", s.listDeploymentObjects)
	g.POST("/stacks/:id/deployment-objects", s.createDeploymentObject)
	g.GET("/stacks/:id/labels", s.listStackLabels)
	g.POST("/stacks/:id/labels", s.addStackLabel)
	g.DELETE("/stacks/:id/labels/:label", s.removeStackLabel)
	g.GET("/stacks/:id/annotations", s.listStackAnnotations)
	g.POST("/stacks/:id/annotations", s.addStackAnnotation)
	g.DELETE("/stacks/:id/annotations/:key", s.removeStackAnnotation)
	g.GET("/deployment-objects/:id", s.getDeploymentObject)
}

var errStackNotFound = notFound("stack_not_found", "stack not found")

func stackNotFound(err error) error { return orNotFound(err, errStackNotFound) }

// ownedStack loads the live stack of the path and checks the caller owns it (admin, or the
// generator it belongs to). Existence is checked first.
func (s *Server) ownedStack(c echo.Context) (db.Stack, error) { return s.ownedStackParam(c, "id") }

// ownedStackParam is ownedStack for a route whose stack id parameter has another name.
func (s *Server) ownedStackParam(c echo.Context, name string) (db.Stack, error) {
	id, err := uuidParam(c, name)
	if err != nil {
		return db.Stack{}, err
	}
	st, err := db.GetStack(c.Request().Context(), s.db, id)
	if err != nil {
		return db.Stack{}, stackNotFound(err)
	}
	who := identity(c)
	if !who.Admin && !who.IsGeneratorSelf(st.GeneratorID) {
		return db.Stack{}, forbidden("stack_not_owned", "the stack belongs to another owner")
	}
	return st, nil
}

func (s *Server) listStacks(c echo.Context) error {
	who := identity(c)
	var filter *uuid.UUID
	switch {
	case who.Admin:
		var err error
		if filter, err = uuidQuery(c, "pak_id"); err != nil {
			return err
		}
	case who.IsGenerator():
		g := who.GeneratorID
		filter = &g
	default:
		return forbidden("stacks_list_denied", "agents cannot list stacks")
	}
	p, err := pageParams(c, "stacks", collectionLimits)
	if err != nil {
		return err
	}
	rows, more, err := db.ListStacks(c.Request().Context(), s.db, filter, p)
	if err != nil {
		return err
	}
	return replyPage(c, "stacks", rows, more, stackKey, toStack)
}

func (s *Server) createStack(c echo.Context) error {
	who := identity(c)
	if !who.Admin && !who.IsGenerator() {
		return forbidden("stack_create_denied", "only the admin or a generator may create stacks")
	}
	var body struct {
		Name        *string    `json:"name"`
		Description *string    `json:"description"`
		GeneratorID *uuid.UUID `json:"generator_id"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"name", body.Name != nil}, field{"generator_id", body.GeneratorID != nil}); err != nil {
		return err
	}
	if who.IsGenerator() && *body.GeneratorID != who.GeneratorID {
		return forbidden("stack_generator_mismatch", "a generator may only create its own stacks")
	}
	if err := checkName("invalid_stack", "name", *body.Name); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.requireLiveGenerator(ctx, *body.GeneratorID); err != nil {
		return err
	}
	var st db.Stack
	err := s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
		var err error
		st, err = db.CreateStack(ctx, q, *body.Name, body.Description, *body.GeneratorID)
		if err != nil {
			return err
		}
		return em.Emit(ctx, q, events.StackCreated, map[string]any{
			"stack_id": st.ID, "name": st.Name, "description": st.Description, "created_at": utc(st.CreatedAt),
		})
	})
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.StackCreated, ResourceType: audit.ResourceStack, ResourceID: ptr(st.ID),
		Details: map[string]any{"name": st.Name, "generator_id": st.GeneratorID}})
	return reply(c, http.StatusCreated, toStack(st))
}

// requireLiveGenerator answers 422 foreign_key_violation unless id names a live generator:
// a stack may not belong to an unknown or deleted generator.
func (s *Server) requireLiveGenerator(ctx context.Context, id uuid.UUID) error {
	if _, err := db.GetGenerator(ctx, s.db, id); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return apiError(http.StatusUnprocessableEntity, "foreign_key_violation",
				"generator_id does not name a live generator").with("constraint", "stacks_generator_id_fkey")
		}
		return err
	}
	return nil
}

func (s *Server) getStack(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, toStack(st))
}

func (s *Server) updateStack(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	var body struct {
		ID          *uuid.UUID `json:"id"`
		CreatedAt   *time.Time `json:"created_at"`
		UpdatedAt   *time.Time `json:"updated_at"`
		Name        *string    `json:"name"`
		Description *string    `json:"description"`
		GeneratorID *uuid.UUID `json:"generator_id"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"id", body.ID != nil}, field{"created_at", body.CreatedAt != nil},
		field{"updated_at", body.UpdatedAt != nil}, field{"name", body.Name != nil},
		field{"generator_id", body.GeneratorID != nil}); err != nil {
		return err
	}
	if *body.ID != st.ID {
		return badRequest("stack_id_mismatch", "body id does not match the path")
	}
	if err := checkName("invalid_stack", "name", *body.Name); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if *body.GeneratorID != st.GeneratorID {
		if !identity(c).Admin {
			return forbidden("stack_generator_mismatch", "only the admin may move a stack to another generator")
		}
		if err := s.requireLiveGenerator(ctx, *body.GeneratorID); err != nil {
			return err
		}
	}
	out, err := db.UpdateStack(ctx, s.db, st.ID, *body.Name, body.Description, *body.GeneratorID)
	if err != nil {
		return err
	}
	if out.GeneratorID != st.GeneratorID {
		s.live.Revoke(live.Sockets{Stacks: []uuid.UUID{st.ID}}) // the former generator's live tails
	}
	s.audit(c, audit.Entry{Action: audit.StackUpdated, ResourceType: audit.ResourceStack, ResourceID: ptr(out.ID),
		Details: map[string]any{"name": out.Name}})
	return reply(c, http.StatusOK, toStack(out))
}

func (s *Server) deleteStack(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	err = s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
		del, err := db.SoftDeleteStack(ctx, q, st.ID)
		if err != nil {
			return stackNotFound(err)
		}
		return em.Emit(ctx, q, events.StackDeleted, map[string]any{"stack_id": del.ID, "deleted_at": utcp(del.DeletedAt)})
	})
	if err != nil {
		return err
	}
	s.live.Revoke(live.Sockets{Stacks: []uuid.UUID{st.ID}}) // its generator's live tails
	s.audit(c, audit.Entry{Action: audit.StackDeleted, ResourceType: audit.ResourceStack, ResourceID: ptr(st.ID),
		Details: map[string]any{"name": st.Name}})
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listDeploymentObjects(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	p, err := pageParams(c, "deployment-objects", historyLimits)
	if err != nil {
		return err
	}
	withYAML := true
	switch v := c.QueryParam("include_yaml"); v {
	case "", "true":
	case "false":
		withYAML = false
	default:
		return badRequest("invalid_parameter", "query parameter include_yaml must be true or false").
			with("parameter", "include_yaml")
	}
	rows, more, err := db.ListDeploymentObjects(c.Request().Context(), s.db, st.ID, withYAML, p)
	if err != nil {
		return err
	}
	return replyPage(c, "deployment-objects", rows, more, objectKey, toDeploymentObject)
}

// yamlMediaTypes are the content types under which a deployment object is raw YAML.
var yamlMediaTypes = map[string]bool{"application/yaml": true, "text/yaml": true, "application/x-yaml": true}

func (s *Server) createDeploymentObject(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	var content string
	var marker bool
	var urgentBody *bool
	if yamlMediaTypes[mediaType(c)] {
		raw, err := readBody(c)
		if err != nil {
			return err
		}
		if !utf8.Valid(raw) {
			return badRequest("invalid_deployment_object", "YAML body must be UTF-8")
		}
		content = string(raw)
		switch q := c.QueryParam("deletion_marker"); q {
		case "", "false":
		case "true":
			marker = true
		default:
			return badRequest("invalid_parameter", "query parameter deletion_marker must be true or false").with("parameter", "deletion_marker")
		}
	} else {
		raw, err := readBody(c)
		if err != nil {
			return err
		}
		var body struct {
			YAMLContent      *string `json:"yaml_content"`
			IsDeletionMarker *bool   `json:"is_deletion_marker"`
			Urgent           *bool   `json:"urgent"`
		}
		if err := decodeJSON(raw, &body); err != nil {
			return badRequest("invalid_deployment_object", "body must be JSON {\"yaml_content\": string, \"is_deletion_marker\": bool} or raw YAML with Content-Type: application/yaml")
		}
		if body.YAMLContent == nil {
			return badRequest("invalid_deployment_object", "missing field `yaml_content`")
		}
		content = *body.YAMLContent
		marker = body.IsDeletionMarker != nil && *body.IsDeletionMarker
		urgentBody = body.Urgent
	}
	urgent, err := urgentParam(c, urgentBody)
	if err != nil {
		return err
	}
	if err := checkManifests(content, marker); err != nil {
		return err
	}
	checksum := manifest.Checksum(content)
	ctx := c.Request().Context()
	var obj db.DeploymentObject
	err = s.inTx(ctx, func(q db.Queryer, em *events.Emitter) error {
		obj, err = db.CreateDeploymentObject(ctx, q, st.ID, content, checksum, marker, urgent)
		if err != nil {
			return err
		}
		return s.emitDeploymentCreated(ctx, q, em, st, obj, true)
	})
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toDeploymentObject(obj))
}

// urgentParam reads whether a new deployment object is urgent (passes through apply
// windows): the urgent query parameter, or "urgent": true in a JSON body (body, may be nil).
func urgentParam(c echo.Context, body *bool) (bool, error) {
	switch c.QueryParam("urgent") {
	case "", "false":
		return body != nil && *body, nil
	case "true":
		return true, nil
	}
	return false, badRequest("invalid_parameter", "query parameter urgent must be true or false").with("parameter", "urgent")
}

// emitDeploymentCreated emits deployment.created, starts the object's rollout when the stack
// has a rollout policy and, when push is set, tells the agents holding an explicit target on
// the stack that it changed.
func (s *Server) emitDeploymentCreated(ctx context.Context, q db.Queryer, em *events.Emitter, st db.Stack, obj db.DeploymentObject, push bool) error {
	if err := em.Emit(ctx, q, events.DeploymentCreated, map[string]any{
		"deployment_object_id": obj.ID, "stack_id": obj.StackID, "sequence_id": obj.SequenceID,
		"created_at": utc(obj.CreatedAt),
	}); err != nil {
		return err
	}
	if _, err := s.rollouts.Start(ctx, q, em, obj); err != nil {
		return err
	}
	if push {
		agents, err := db.AgentsTargetingStack(ctx, q, st.ID)
		if err != nil {
			return err
		}
		em.Notice(events.NoticeStackChanged, map[string]any{"agent_ids": agents, "stack": toStack(st)})
	}
	return nil
}

// readableStack checks read access to a stack's labels and annotations: the admin (no
// existence check), the owning generator, or an agent explicitly targeting the stack.
func (s *Server) readableStack(c echo.Context) (uuid.UUID, error) {
	id, err := uuidParam(c, "id")
	if err != nil {
		return uuid.Nil, err
	}
	who := identity(c)
	if who.Admin {
		return id, nil
	}
	ctx := c.Request().Context()
	st, err := db.GetStack(ctx, s.db, id)
	if err != nil {
		return uuid.Nil, stackNotFound(err)
	}
	if who.IsGeneratorSelf(st.GeneratorID) {
		return id, nil
	}
	if who.IsAgent() {
		ok, err := db.HasAgentTarget(ctx, s.db, who.AgentID, id)
		if err != nil {
			return uuid.Nil, err
		}
		if ok {
			return id, nil
		}
	}
	return uuid.Nil, forbidden("stack_not_accessible", "no access to this stack")
}

func (s *Server) listStackLabels(c echo.Context) error {
	id, err := s.readableStack(c)
	if err != nil {
		return err
	}
	rows, err := db.StackLabels.List(c.Request().Context(), s.db, id)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toStackLabel))
}

func (s *Server) addStackLabel(c echo.Context) error {
	st, err := s.ownedStack(c)
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
	l, err := db.StackLabels.Add(c.Request().Context(), s.db, st.ID, *label)
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toStackLabel(l))
}

func (s *Server) removeStackLabel(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	if err := db.StackLabels.Remove(c.Request().Context(), s.db, st.ID, param(c, "label")); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return notFound("stack_label_not_found", "stack label not found")
		}
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listStackAnnotations(c echo.Context) error {
	id, err := s.readableStack(c)
	if err != nil {
		return err
	}
	rows, err := db.StackAnnotations.List(c.Request().Context(), s.db, id)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toStackAnnotation))
}

func (s *Server) addStackAnnotation(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	var body struct {
		StackID *uuid.UUID `json:"stack_id"`
		Key     *string    `json:"key"`
		Value   *string    `json:"value"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"stack_id", body.StackID != nil}, field{"key", body.Key != nil},
		field{"value", body.Value != nil}); err != nil {
		return err
	}
	if *body.StackID != st.ID {
		return badRequest("stack_id_mismatch", "body stack_id does not match the path")
	}
	if err := checkAnnotation(*body.Key, *body.Value); err != nil {
		return err
	}
	if err := s.checkSettingsAnnotation(c.Request().Context(), st, *body.Key, *body.Value); err != nil {
		return err
	}
	a, err := db.StackAnnotations.Add(c.Request().Context(), s.db, st.ID, *body.Key, *body.Value)
	if err != nil {
		return err
	}
	return reply(c, http.StatusCreated, toStackAnnotation(a))
}

func (s *Server) removeStackAnnotation(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	if err := db.StackAnnotations.Remove(c.Request().Context(), s.db, st.ID, param(c, "key")); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return notFound("stack_annotation_not_found", "stack annotation not found")
		}
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getDeploymentObject(c echo.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	obj, err := db.GetDeploymentObject(ctx, s.db, id)
	if errors.Is(err, db.ErrNotFound) {
		return notFound("deployment_object_not_found", "deployment object not found")
	}
	if err != nil {
		return err
	}
	who := identity(c)
	switch {
	case who.Admin:
	case who.IsAgent():
		ok, err := db.IsStackAssociated(ctx, s.db, who.AgentID, obj.StackID)
		if err != nil {
			return err
		}
		if !ok {
			return forbidden("agent_not_associated", "the agent is not associated with this object's stack")
		}
	case who.IsGenerator():
		st, err := db.GetStack(ctx, s.db, obj.StackID)
		if err != nil {
			return stackNotFound(err)
		}
		if st.GeneratorID != who.GeneratorID {
			return forbidden("generator_not_associated", "the object belongs to another generator's stack")
		}
	default:
		return forbidden("forbidden", "no access")
	}
	if acceptsYAML(c.Request().Header.Values(echo.HeaderAccept)) {
		return c.Blob(http.StatusOK, "application/yaml", []byte(obj.YAMLContent))
	}
	return reply(c, http.StatusOK, toDeploymentObject(obj))
}

// acceptsYAML reports whether an Accept header lists a YAML media type.
func acceptsYAML(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
			if yamlMediaTypes[mt] {
				return true
			}
		}
	}
	return false
}
