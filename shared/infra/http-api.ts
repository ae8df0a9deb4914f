import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { checkName, checkServiceName, serviceResourceBase, VENDED_LOGS_PREFIX } from "./helpers/names";
import { applyTransform, type Transform } from "./helpers/transform";
import type { PlatformReference } from "./platform-reference";
import type { ServiceFunction } from "./service-function";
import {
  HTTP_METHODS,
  parseRouteKey as parseKey,
  routeArnPath,
  RouteKeyError,
  type HttpMethod,
  type RouteKey,
} from "../contract/route-key";

/** Pulumi type token of the component; the local stage finds HTTP APIs by it. */
export const HTTP_API_TYPE = "platform:infra:HttpApi";

export { HTTP_METHODS, type HttpMethod, type RouteKey };

/**
 * Who may call a route: anyone (`"none"`, say why in a comment), callers signing with IAM (`"iam"`), or bearers of
 * a JWT from the API's issuer, optionally with scopes.
 */
export type RouteAuth = "none" | "iam" | { jwt: { scopes?: string[] } };

export interface HttpRouteArgs {
  /** The function that handles the route (payload format 2.0). */
  function: ServiceFunction;
  /**
   * @default `{ jwt: {} }` when the API has a JWT issuer, otherwise `"iam"`
   */
  auth?: RouteAuth;
}

export interface JwtAuthorizerArgs {
  /** The token issuer (`https://cognito-idp.<region>.amazonaws.com/<pool id>`). */
  issuer: pulumi.Input<string>;
  /** Accepted `aud` values (client ids). */
  audiences: pulumi.Input<string>[];
  /**
   * Where the token is.
   * @default "$request.header.Authorization"
   */
  identitySource?: string;
}

export interface HttpApiArgs {
  /** The platform contract of the stage (log retention). */
  platform: PlatformReference;
  /** The service the API belongs to. */
  service: string;
  /** Routes by key (`"POST /orders"`). */
  routes: Record<string, HttpRouteArgs>;
  /**
   * A JWT authorizer for routes with `auth: { jwt }`.
   * @default none
   */
  jwt?: JwtAuthorizerArgs;
  /**
   * Default route throttling: steady requests per second and burst.
   * @default { rate: 50, burst: 100 }
   */
  throttle?: { rate?: number; burst?: number };
  /**
   * CORS settings of the API.
   * @default none
   */
  cors?: aws.types.input.apigatewayv2.ApiCorsConfiguration;
  /** Adjust the child resources. */
  transform?: {
    api?: Transform<aws.apigatewayv2.ApiArgs>;
    stage?: Transform<aws.apigatewayv2.StageArgs>;
    logGroup?: Transform<aws.cloudwatch.LogGroupArgs>;
    authorizer?: Transform<aws.apigatewayv2.AuthorizerArgs>;
    integration?: Transform<aws.apigatewayv2.IntegrationArgs>;
    route?: Transform<aws.apigatewayv2.RouteArgs>;
    permission?: Transform<aws.lambda.PermissionArgs>;
  };
}

/** What the component registers as its inputs: the routes and the logical names of their functions. */
export interface HttpApiRegistration {
  service: string;
  routes: Record<string, { function: string; auth: "none" | "iam" | "jwt"; scopes?: string[] }>;
}

export const HTTP_API_DEFAULTS = { throttle: { rate: 50, burst: 100 } } as const;

/** API Gateway's own access-log fields, as one JSON object per request. */
export const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: "$context.requestId",
  ip: "$context.identity.sourceIp",
  requestTime: "$context.requestTime",
  httpMethod: "$context.httpMethod",
  routeKey: "$context.routeKey",
  status: "$context.status",
  protocol: "$context.protocol",
  responseLength: "$context.responseLength",
  latency: "$context.responseLatency",
  integrationLatency: "$context.integrationLatency",
  integrationError: "$context.integrationErrorMessage",
  authorizerError: "$context.authorizer.error",
});

export class HttpApiConfigError extends Error {
  override name = "HttpApiConfigError";
}

interface ParsedRoute {
  key: RouteKey;
  method: HttpMethod;
  path: string;
  slug: string;
  auth: RouteAuth;
  function: ServiceFunction;
}

/**
 * The HTTP edge of a service: an API Gateway HTTP API, its `$default` stage with JSON access logs (platform
 * retention) and default throttling, and per route a Lambda proxy integration (payload 2.0), the route (IAM, JWT
 * or explicitly no auth) and a Lambda permission scoped to this API, method and path.
 *
 * @example
 * const api = new HttpApi("orders-http", {
 *   platform,
 *   service: "orders",
 *   routes: { "POST /orders": { function: placeOrder, auth: "iam" } },
 * });
 * export const url = api.url;
 */
export class HttpApi extends pulumi.ComponentResource {
  private readonly api: aws.apigatewayv2.Api;
  private readonly stage: aws.apigatewayv2.Stage;
  private readonly logGroup: aws.cloudwatch.LogGroup;
  private readonly authorizer: aws.apigatewayv2.Authorizer | undefined;
  private readonly routeNodes: Record<
    string,
    { integration: aws.apigatewayv2.Integration; route: aws.apigatewayv2.Route; permission: aws.lambda.Permission }
  > = {};

  constructor(name: string, args: HttpApiArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const service = checkServiceName(args.service);
    const routes = parseRoutes(service, args);
    const registration: HttpApiRegistration = {
      service,
      routes: Object.fromEntries(
        routes.map((r) => [
          r.key,
          {
            function: r.function.registration.name,
            auth: typeof r.auth === "string" ? r.auth : "jwt",
            ...(typeof r.auth === "object" && r.auth.jwt.scopes ? { scopes: r.auth.jwt.scopes } : {}),
          },
        ]),
      ),
    };
    const apiName = checkName("api", serviceResourceBase(service, "http"));
    super(HTTP_API_TYPE, name, registration, opts);
    const parent = { parent: this };
    const throttle = { ...HTTP_API_DEFAULTS.throttle, ...args.throttle };

    this.api = new aws.apigatewayv2.Api(
      ...applyTransform(
        args.transform?.api,
        `${name}-api`,
        {
          name: apiName,
          protocolType: "HTTP",
          description: `HTTP API of ${service}`,
          corsConfiguration: args.cors,
        },
        { ...parent },
      ),
    );

    // Under /aws/vendedlogs/: API Gateway adds any other log group to the account's CloudWatch Logs resource policy,
    // which is capped at 5,120 characters; once a few dozen stages have filled it, every HTTP API deploy fails.
    this.logGroup = new aws.cloudwatch.LogGroup(
      ...applyTransform(
        args.transform?.logGroup,
        `${name}-access-logs`,
        { name: checkName("logGroup", accessLogGroupName(apiName)), retentionInDays: args.platform.logs.retentionDays },
        { ...parent },
      ),
    );

    this.stage = new aws.apigatewayv2.Stage(
      ...applyTransform(
        args.transform?.stage,
        `${name}-stage`,
        {
          apiId: this.api.id,
          name: "$default",
          autoDeploy: true,
          accessLogSettings: { destinationArn: this.logGroup.arn, format: ACCESS_LOG_FORMAT },
          defaultRouteSettings: {
            throttlingRateLimit: throttle.rate,
            throttlingBurstLimit: throttle.burst,
            detailedMetricsEnabled: true,
          },
        },
        { ...parent },
      ),
    );

    if (args.jwt) {
      this.authorizer = new aws.apigatewayv2.Authorizer(
        ...applyTransform(
          args.transform?.authorizer,
          `${name}-jwt`,
          {
            apiId: this.api.id,
            name: "jwt",
            authorizerType: "JWT",
            identitySources: [args.jwt.identitySource ?? "$request.header.Authorization"],
            jwtConfiguration: { issuer: args.jwt.issuer, audiences: args.jwt.audiences },
          },
          { ...parent },
        ),
      );
    }

    for (const route of routes) {
      const integration = new aws.apigatewayv2.Integration(
        ...applyTransform(
          args.transform?.integration,
          `${name}-${route.slug}-integration`,
          {
            apiId: this.api.id,
            description: route.key,
            integrationType: "AWS_PROXY",
            integrationUri: route.function.arn,
            payloadFormatVersion: "2.0",
            timeoutMilliseconds: Math.min(30_000, (route.function.timeout + 1) * 1000),
          },
          { ...parent },
        ),
      );
      const auth = route.auth;
      const routeResource = new aws.apigatewayv2.Route(
        ...applyTransform(
          args.transform?.route,
          `${name}-${route.slug}-route`,
          {
            apiId: this.api.id,
            routeKey: route.key,
            target: pulumi.interpolate`integrations/${integration.id}`,
            authorizationType: auth === "none" ? "NONE" : auth === "iam" ? "AWS_IAM" : "JWT",
            authorizerId: typeof auth === "object" ? this.authorizer?.id : undefined,
            authorizationScopes: typeof auth === "object" ? auth.jwt.scopes : undefined,
          },
          { ...parent },
        ),
      );
      const permission = new aws.lambda.Permission(
        ...applyTransform(
          args.transform?.permission,
          `${name}-${route.slug}-permission`,
          {
            action: "lambda:InvokeFunction",
            function: route.function.name,
            principal: "apigateway.amazonaws.com",
            sourceArn: pulumi.interpolate`${this.api.executionArn}/*/${sourceArnRoute(route.method, route.path)}`,
          },
          { ...parent },
        ),
      );
      this.routeNodes[route.key] = { integration, route: routeResource, permission };
    }

    this.registerOutputs({ url: this.api.apiEndpoint, apiId: this.api.id });
  }

  /** The API's base URL (`https://<id>.execute-api.<region>.amazonaws.com`). */
  get url(): pulumi.Output<string> {
    return this.api.apiEndpoint;
  }
  get apiId(): pulumi.Output<string> {
    return this.api.id;
  }
  /** The ARN prefix IAM policies use to grant `execute-api:Invoke` on this API's routes. */
  get executionArn(): pulumi.Output<string> {
    return this.api.executionArn;
  }
  /** The raw child resources. */
  get nodes(): {
    api: aws.apigatewayv2.Api;
    stage: aws.apigatewayv2.Stage;
    logGroup: aws.cloudwatch.LogGroup;
    authorizer: aws.apigatewayv2.Authorizer | undefined;
    routes: Record<
      string,
      { integration: aws.apigatewayv2.Integration; route: aws.apigatewayv2.Route; permission: aws.lambda.Permission }
    >;
  } {
    return { api: this.api, stage: this.stage, logGroup: this.logGroup, authorizer: this.authorizer, routes: this.routeNodes };
  }
}

/** `/aws/vendedlogs/apigateway/<stage>-<service>-http`: the access log group of a service's HTTP API. */
export function accessLogGroupName(apiName: string): string {
  return `${VENDED_LOGS_PREFIX}apigateway/${apiName}`;
}

/** `/orders/{orderId}` -> `orders/*`: the route part of the execute-api ARN a permission is scoped to. */
export function sourceArnRoute(method: HttpMethod, path: string): string {
  return routeArnPath(method, path);
}

/** Parses and checks one route key (the grammar of `shared/contract/route-key.ts`); the error names the key and what is wrong with it. */
export function parseRouteKey(key: string): { method: HttpMethod; path: string } {
  try {
    const { method, path } = parseKey(key);
    return { method, path };
  } catch (error) {
    if (error instanceof RouteKeyError) throw new HttpApiConfigError(error.message, { cause: error });
    throw error;
  }
}

function parseRoutes(service: string, args: HttpApiArgs): ParsedRoute[] {
  const keys = Object.keys(args.routes);
  if (keys.length === 0) throw new HttpApiConfigError(`HTTP API of ${service}: give at least one route`);
  const slugs = new Map<string, string>();
  return keys.map((key) => {
    const { method, path } = parseRouteKey(key);
    const route = args.routes[key] as HttpRouteArgs;
    const auth: RouteAuth = route.auth ?? (args.jwt ? { jwt: {} } : "iam");
    if (typeof auth === "object" && !args.jwt) {
      throw new HttpApiConfigError(`route "${key}" of ${service} uses JWT auth but the API has no jwt issuer configured`);
    }
    const slug = `${method.toLowerCase()}${path.replace(/[{}+]/g, "").replace(/[^A-Za-z0-9]+/g, "-").replace(/-$/, "")}`;
    const clash = slugs.get(slug);
    if (clash) throw new HttpApiConfigError(`routes "${clash}" and "${key}" of ${service} would share resource names; rename one`);
    slugs.set(slug, key);
    return { key: key as RouteKey, method, path, slug, auth, function: route.function };
  });
}
